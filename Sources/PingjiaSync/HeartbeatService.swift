import Foundation
import Logging
import PingjiaCore
import PingjiaStore
import PingjiaSyncProtocol
import ServiceLifecycle

/// What only the daemon knows (windows, staff, plugged-in devices): handed to the heartbeat as a
/// snapshot taken from in-memory state, never from the store's writer.
public struct KioskSnapshot: Sendable, Equatable {
    public var windows: [Heartbeat.WindowReport]
    public var unpairedDevices: [Heartbeat.DeviceReport]

    public init(windows: [Heartbeat.WindowReport] = [], unpairedDevices: [Heartbeat.DeviceReport] = []) {
        self.windows = windows
        self.unpairedDevices = unpairedDevices
    }
}

public struct HeartbeatSettings: Sendable {
    /// One heartbeat every `interval` (`[sync] heartbeat_seconds`)…
    public var interval: Duration = .seconds(60)
    /// …and one as soon as something it reports changes, looked for this often.
    public var changePoll: Duration = .seconds(1)
    public var version = "unknown"

    public init() {}
}

/// The kiosk's heartbeat to the hub: every `interval` and on change (a keypad plugged in or out,
/// staff signing in or out, the dead-letter state). Skipped silently while the hub cannot be
/// reached. A successful heartbeat calls `onReachable`, which wakes the push loop out of its
/// backoff. Runs after the store and beside the push loop; it only reads.
public final class HeartbeatService: Service, Sendable {
    public struct Hooks: Sendable {
        /// The daemon's windows and devices.
        public var snapshot: @Sendable () -> KioskSnapshot = { KioskSnapshot() }
        /// Remote configuration: the version in force, and the last document refused.
        public var appliedConfigVersion: @Sendable () -> Int? = { nil }
        public var configRefused: @Sendable () -> Heartbeat.ConfigRefusal? = { nil }
        public var appliedRosterDigest: @Sendable () -> String? = { nil }
        /// Each verified answer (its `configVersion` tells remote configuration what the hub holds).
        public var onAnswer: @Sendable (HeartbeatAnswer) -> Void = { _ in }
        /// The hub answered: connectivity is there.
        public var onReachable: @Sendable () -> Void = {}

        public init() {}
    }

    let store: KioskStore
    let key: SigningKey
    let hubKey: PublicKey
    public let transport: any HubTransport
    let settings: HeartbeatSettings
    let hooks: Hooks
    let logger: Logger
    public let bootId = UUID().uuidString.lowercased()
    let started = ContinuousClock.now
    private let state = HeartbeatState()

    public init(store: KioskStore, key: SigningKey, hubKey: PublicKey, transport: any HubTransport, settings: HeartbeatSettings,
                hooks: Hooks = Hooks(), logger: Logger) {
        self.store = store
        self.key = key
        self.hubKey = hubKey
        self.transport = transport
        self.settings = settings
        self.hooks = hooks
        self.logger = logger
    }

    /// The heartbeat as it would be sent now.
    public func gather() -> Heartbeat {
        let now = Date()
        let facts = try? store.outboxFacts()
        let snapshot = hooks.snapshot()
        let oldestAge = facts?.oldestUnackedRatedAt.flatMap(WireTime.parse).map { Int64(now.timeIntervalSince($0)) }
        return Heartbeat(
            deviceId: store.deviceId, bootId: bootId, sequence: state.nextSequence(), sentAt: DeviceTime.format(now),
            version: settings.version, uptimeSeconds: UInt64((ContinuousClock.now - started).components.seconds),
            outboxDepth: facts?.depth ?? 0, oldestUnackedAgeSeconds: oldestAge, ackedSeq: facts?.ackedThroughSeq ?? 0,
            lastSeq: facts?.lastSeq ?? 0, deadLetter: facts?.deadLetterReason,
            storeHealth: facts == nil ? "unreadable" : (store.health == .ok ? "ok" : "recovered"),
            diskFreeBytes: Self.diskFree(path: (store.path as NSString).deletingLastPathComponent),
            clockOffsetMs: state.clockOffsetMs, windows: snapshot.windows, unpairedDevices: snapshot.unpairedDevices,
            lastRatingAt: facts?.lastRatedAt, appliedConfigVersion: hooks.appliedConfigVersion(), configRefused: hooks.configRefused(),
            appliedRosterDigest: hooks.appliedRosterDigest())
    }

    /// Sends one heartbeat; the verified answer, or why not.
    public func beat() async -> Result<HeartbeatAnswer, HeartbeatFailure> {
        let heartbeat = gather()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let body = try? Array(encoder.encode(heartbeat)) else { return .failure(.refused(0, "cannot encode the heartbeat")) }
        let response: HubResponse
        let sentAt = Date()
        do {
            response = try await transport.send(method: "POST", path: "/v1/devices/\(store.deviceId)/heartbeat",
                                                headers: [(HeartbeatAuth.header, HeartbeatAuth.sign(deviceId: store.deviceId, body: body, key: key))],
                                                body: body)
        } catch {
            return .failure(.unreachable("\(error)"))
        }
        guard response.status == 200 else {
            let problem = try? JSONDecoder().decode(Problem.self, from: Data(response.body))
            return .failure(.refused(response.status, problem?.description ?? "HTTP \(response.status)"))
        }
        guard let answer = try? JSONDecoder().decode(HeartbeatAnswer.self, from: Data(response.body)),
              answer.deviceId == store.deviceId, answer.sequence == heartbeat.sequence, answer.isSigned(by: hubKey) else {
            return .failure(.refused(200, "the answer is not signed by the enrolled hub key for this heartbeat"))
        }
        if let server = WireTime.parse(answer.serverTime) {
            // Halfway through the round trip is the best guess of when the hub read its clock.
            let middle = sentAt.addingTimeInterval(Date().timeIntervalSince(sentAt) / 2)
            state.clockOffsetMs = Int64((middle.timeIntervalSince(server) * 1000).rounded())
        }
        state.lastSent = fingerprint(heartbeat)
        hooks.onAnswer(answer)
        hooks.onReachable()
        return .success(answer)
    }

    /// What "on change" compares: the parts of a heartbeat an operator must see at once.
    func fingerprint(_ heartbeat: Heartbeat) -> String {
        let windows = heartbeat.windows.map { w in
            "\(w.window)|\(w.staffId ?? "")|\(w.staffStatus)|" + w.devices.map { "\($0.profile)@\($0.port)" }.sorted().joined(separator: ",")
        }
        let unpaired = heartbeat.unpairedDevices.map { "\($0.profile)@\($0.port)" }.sorted()
        return (windows + unpaired + [heartbeat.deadLetter ?? "", "\(heartbeat.appliedConfigVersion ?? -1)",
                                      heartbeat.configRefused.map { "\($0.version)" } ?? "",
                                      heartbeat.appliedRosterDigest ?? ""]).joined(separator: "\n")
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            var next = ContinuousClock.now
            var reported = false
            while !Task.isCancelled {
                let due = ContinuousClock.now >= next
                let changed = state.lastSent != nil && state.lastSent != fingerprint(changeProbe())
                if due || changed {
                    next = ContinuousClock.now + settings.interval
                    switch await beat() {
                    case .success:
                        if reported { logger.info("heartbeat: the hub answers again") }
                        reported = false
                    case .failure(.unreachable(let reason)):
                        // Offline is normal for a kiosk: quiet, and no retry before the next one is due.
                        if !reported { logger.debug("heartbeat skipped: hub unreachable", metadata: ["reason": "\(reason)"]) }
                        reported = true
                        state.lastSent = nil
                    case .failure(.refused(let status, let reason)):
                        if !reported { logger.warning("heartbeat refused by the hub", metadata: ["status": "\(status)", "reason": "\(reason)"]) }
                        reported = true
                        state.lastSent = nil
                    }
                }
                try? await Task.sleep(for: settings.changePoll)
            }
        }
        await transport.shutdown()
    }

    /// The change-relevant part only (no sequence consumed, no disk or clock reads).
    private func changeProbe() -> Heartbeat {
        let snapshot = hooks.snapshot()
        let deadLetter = try? store.outboxFacts().deadLetterReason
        return Heartbeat(deviceId: store.deviceId, bootId: bootId, sequence: 0, sentAt: "", version: "", uptimeSeconds: 0, outboxDepth: 0,
                         oldestUnackedAgeSeconds: nil, ackedSeq: 0, lastSeq: 0, deadLetter: deadLetter, storeHealth: "",
                         diskFreeBytes: nil, clockOffsetMs: nil, windows: snapshot.windows, unpairedDevices: snapshot.unpairedDevices,
                         lastRatingAt: nil, appliedConfigVersion: hooks.appliedConfigVersion(), configRefused: hooks.configRefused(),
            appliedRosterDigest: hooks.appliedRosterDigest())
    }

    /// Bytes free for an unprivileged writer on the file system holding `path`.
    static func diskFree(path: String) -> Int64? {
        var stats = statvfs()
        guard statvfs(path.isEmpty ? "." : path, &stats) == 0 else { return nil }
        return Int64(stats.f_bavail) * Int64(stats.f_frsize)
    }
}

public enum HeartbeatFailure: Error, Sendable, Equatable {
    /// No connection, timeout: the kiosk is offline.
    case unreachable(String)
    /// The hub answered, but not with a verified answer.
    case refused(Int, String)
}

private final class HeartbeatState: @unchecked Sendable {
    private let lock = NSLock()
    private var sequence: UInt64 = 0
    private var _clockOffsetMs: Int64?
    private var _lastSent: String?

    func nextSequence() -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        sequence += 1
        return sequence
    }

    var clockOffsetMs: Int64? {
        get { lock.lock(); defer { lock.unlock() }; return _clockOffsetMs }
        set { lock.lock(); _clockOffsetMs = newValue; lock.unlock() }
    }

    var lastSent: String? {
        get { lock.lock(); defer { lock.unlock() }; return _lastSent }
        set { lock.lock(); _lastSent = newValue; lock.unlock() }
    }
}

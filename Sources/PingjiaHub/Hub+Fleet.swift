import Foundation
import Logging
import PingjiaCore
import PingjiaSyncProtocol

extension Hub {
    /// Largest heartbeat body accepted (a kiosk with dozens of windows stays far below).
    public static let maxHeartbeatBytes = 64 * 1024

    /// Verifies and keeps one heartbeat; answers with the hub's time and the device's
    /// configuration version, signed.
    public func heartbeat(deviceId: String, signature: String?, body: [UInt8]) async -> Result<HeartbeatAnswer, Problem> {
        if let problem = await verifyHeartbeat(deviceId: deviceId, signature: signature, body: body) { return .failure(problem) }
        return await recordHeartbeat(deviceId: deviceId, body: body)
    }

    /// Nil when `body` is signed by the key of the active device `deviceId` (the request is
    /// authenticated); else the problem to answer with.
    public func verifyHeartbeat(deviceId: String, signature: String?, body: [UInt8]) async -> Problem? {
        let deviceKey: PublicKey
        switch await activeDeviceKey(deviceId) {
        case .success(let key): deviceKey = key
        case .failure(let problem): return problem
        }
        // The signature first: nothing of an unsigned body is read.
        guard HeartbeatAuth.verify(deviceId: deviceId, body: body, header: signature, key: deviceKey) else {
            logger.warning("heartbeat with a bad signature", metadata: ["device": "\(deviceId)"])
            return Problem(type: Problem.Kind.badSignature, title: "Bad signature", status: 401,
                           detail: "the \(HeartbeatAuth.header) header is not this device's signature over the body")
        }
        return nil
    }

    /// Keeps a heartbeat whose signature `verifyHeartbeat` accepted.
    public func recordHeartbeat(deviceId: String, body: [UInt8]) async -> Result<HeartbeatAnswer, Problem> {
        let heartbeat: Heartbeat
        do {
            heartbeat = try JSONDecoder().decode(Heartbeat.self, from: Data(body))
        } catch {
            return .failure(Problem(type: Problem.Kind.malformed, title: "Malformed heartbeat", status: 400,
                                    detail: "the body is not a heartbeat: \(Self.describe(error))"))
        }
        guard heartbeat.format == Heartbeat.formatTag, heartbeat.deviceId == deviceId else {
            return .failure(Problem(type: Problem.Kind.malformed, title: "Malformed heartbeat", status: 400,
                                    detail: "format must be \(Heartbeat.formatTag) and deviceId '\(deviceId)' (the path)"))
        }
        let receivedAt = now()
        let offset = WireTime.parse(heartbeat.sentAt).map { Int64(($0.timeIntervalSince(receivedAt) * 1000).rounded()) }
        let outcome: HeartbeatOutcome
        do {
            outcome = try await storage.recordHeartbeat(StoredHeartbeat(heartbeat: heartbeat, receivedAt: WireTime.format(receivedAt),
                                                                        clockOffsetMs: offset))
        } catch {
            logger.error("heartbeat not stored", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            return .failure(.storageUnavailable("the hub could not store the heartbeat; retry later"))
        }
        if outcome == .stale {
            return .failure(Problem(type: "stale-heartbeat", title: "Stale heartbeat", status: 409,
                                    detail: "boot \(heartbeat.bootId) already sent sequence \(heartbeat.sequence) or a later one"))
        }
        await noteHeartbeatConfig(deviceId: deviceId, heartbeat, at: receivedAt)
        // The configuration version the hub holds for the device (nil: none). Unreadable, the
        // answer would wrongly say "none": a 503 instead, and the device sends again.
        let configVersion: Int?
        do { configVersion = try await storage.configVersion(deviceId: deviceId) } catch {
            logger.error("configuration version unreadable", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            return .failure(.storageUnavailable("the hub cannot read its database right now; retry later"))
        }
        return .success(HeartbeatAnswer(deviceId: deviceId, sequence: heartbeat.sequence, serverTime: WireTime.format(receivedAt),
                                        configVersion: configVersion, key: key))
    }
}

/// When a device needs attention. Defaults here; `pingjia-hub serve` takes each as a flag
/// (`--alert-offline-minutes` …).
public struct AlertRules: Sendable, Equatable {
    /// No heartbeat or batch for this long: offline.
    public var offlineAfter: TimeInterval = 10 * 60
    /// The oldest record the hub has not acknowledged is older than this.
    public var outboxOlderThan: TimeInterval = 60 * 60
    /// |device clock − hub clock| above this.
    public var clockOffsetAbove: TimeInterval = 120
    /// Free space on the kiosk's state disk below this.
    public var diskFreeBelow: Int64 = 500 * 1024 * 1024
    /// A bad-rating alert stays open this long (the case workflow follows it up), then clears.
    public var badRatingOpenFor: TimeInterval = 24 * 3600

    public init() {}

    /// The conditions that hold for the fleet at `now`. Devices that were revoked raise nothing.
    public func conditions(_ fleet: [FleetDevice], now: Date) -> [AlertCondition] {
        var holding: [AlertCondition] = []
        for entry in fleet where entry.device.status == .active {
            guard let id = entry.device.deviceId else { continue }
            func hold(_ kind: String, _ detail: String) { holding.append(AlertCondition(deviceId: id, kind: kind, detail: detail)) }
            let seen = WireTime.parse(entry.lastSeen ?? entry.device.createdAt)
            if let seen, now.timeIntervalSince(seen) > offlineAfter {
                hold(FleetAlertKind.offline, "nothing heard since \(WireTime.format(seen)) (over \(Int(offlineAfter / 60)) min)")
            }
            guard let stored = entry.heartbeat else { continue }
            let beat = stored.heartbeat
            if let age = beat.oldestUnackedAgeSeconds, TimeInterval(age) > outboxOlderThan {
                hold(FleetAlertKind.outboxStale, "\(beat.outboxDepth) ratings wait for the hub; the oldest for \(age / 60) min")
            }
            if let reason = beat.deadLetter {
                hold(FleetAlertKind.deadLetter, "sync stopped: \(reason)")
            }
            if let offset = stored.clockOffsetMs, abs(Double(offset)) / 1000 > clockOffsetAbove {
                hold(FleetAlertKind.clockOffset, "the device clock is \(offset / 1000) s off the hub's (check NTP)")
            }
            if let free = beat.diskFreeBytes, free < diskFreeBelow {
                hold(FleetAlertKind.diskLow, "\(free / 1_048_576) MiB free on the state disk")
            }
            if beat.storeHealth != "ok" {
                hold(FleetAlertKind.storeRecovered, "store health '\(beat.storeHealth)': the kiosk replaced a damaged store at start")
            }
            let missing = beat.windows.filter { $0.staffed && $0.keypadExpected && $0.devices.isEmpty }
            if !missing.isEmpty {
                hold(FleetAlertKind.keypadMissing, "no keypad plugged in at staffed window(s) "
                     + missing.map { "\($0.window) (\($0.staffId ?? "-"))" }.joined(separator: ", "))
            }
        }
        return holding
    }
}

import Foundation
import Logging
import PingjiaCore
import PingjiaStore
import PingjiaSyncProtocol

/// How the push loop sizes batches and waits.
public struct PushSettings: Sendable {
    public var batchRecords = 500
    public var batchBytes = 1_048_576
    /// Backoff after a transient failure: from `backoffBase`, doubling, capped at `backoffCap`, jittered.
    public var backoffBase: Duration = .milliseconds(500)
    public var backoffCap: Duration = .seconds(60)
    /// How often to look for new ratings when everything is delivered.
    public var idlePoll: Duration = .seconds(1)
    /// How often a dead-lettered loop looks whether someone cleared the state.
    public var deadLetterPoll: Duration = .seconds(30)
    /// Acknowledged ratings older than this are pruned (nil: keep all).
    public var retentionDays: Int? = 90

    public init() {}
}

/// Capped exponential backoff with jitter ("equal jitter": between half and all of the step), so
/// a hall's kiosks that lost the uplink together do not all return at the same instant.
public struct Backoff: Sendable {
    public let base: Duration
    public let cap: Duration

    public init(base: Duration, cap: Duration) {
        self.base = base
        self.cap = cap
    }

    public func delay(afterFailures failures: Int) -> Duration {
        let exponent = min(max(failures - 1, 0), 30)
        let step = min(cap, base * (1 << exponent))
        let half = step / 2
        let jitter = Double.random(in: 0...1)
        return half + half * jitter
    }
}

/// The device's push loop: sends consecutive unacknowledged records as signed batches and
/// advances `acked_through_seq` only from a receipt whose signature and head hash check out.
public final class Pusher: Sendable {
    public enum Step: Sendable, Equatable {
        /// Nothing to send.
        case idle
        /// A receipt advanced `acked_through_seq`.
        case advanced(to: UInt64, records: Int)
        /// The hub asked to resend from `expectedSeq`; the next step does.
        case resendFrom(UInt64)
        /// A transient failure; try again after a backoff (at least `after` when the hub said so).
        case retry(String, after: Duration?)
        /// The hub refused for good; sending stops until someone deals with the reason.
        case deadLetter(String)
    }

    let store: KioskStore
    let deviceId: String
    let key: SigningKey
    let hubKey: PublicKey
    public let transport: any HubTransport
    let settings: PushSettings
    let logger: Logger
    private let state = LockedState()
    private let wakeSignal = WakeSignal()

    public init(store: KioskStore, key: SigningKey, hubKey: PublicKey, transport: any HubTransport,
                settings: PushSettings, logger: Logger) {
        self.store = store
        deviceId = store.deviceId
        self.key = key
        self.hubKey = hubKey
        self.transport = transport
        self.settings = settings
        self.logger = logger
    }

    /// Connectivity is back (a heartbeat got through, the network changed): ends a backoff wait
    /// at once instead of letting it run out.
    public func wake() { wakeSignal.wake() }

    /// One round: build the next batch, send it, act on the answer.
    public func step() async -> Step {
        let sync: SyncState
        let store = self.store
        // The outbox's reads and the receipt's commit (an fsync) run off the cooperative pool,
        // which the daemon's display, keypad and API tasks share.
        do { sync = try await runBlocking { try store.syncState() } } catch { return .retry("cannot read the outbox: \(error)", after: nil) }
        if let reason = sync.deadLetterReason { return .deadLetter(reason) }
        let from = state.resendFrom ?? sync.ackedThroughSeq + 1
        if from <= sync.prunedThroughSeq {
            return await deadLetter("the hub asks for seq \(from), but this kiosk pruned its records through seq \(sync.prunedThroughSeq) "
                              + "after the hub had acknowledged them: the hub has lost data; restore the hub's database")
        }
        let candidates: [RatingRecord]
        let limit = settings.batchRecords
        do { candidates = try await runBlocking { try store.records(after: from - 1, limit: limit) } } catch {
            return .retry("cannot read the outbox: \(error)", after: nil)
        }
        guard let first = candidates.first else {
            if from > sync.lastSeq + 1 {
                return await deadLetter("the hub expects seq \(from), but this kiosk's outbox ends at seq \(sync.lastSeq): "
                                  + "the kiosk's database was rolled back or replaced; keep it and contact support")
            }
            state.resendFrom = nil
            return .idle
        }
        guard first.seq == from else {
            return await deadLetter("seq \(from) is missing from the outbox (next stored is \(first.seq)); run `pingjia outbox verify`")
        }
        // A hole further on: the hub would refuse the batch, and the cause is here, not there.
        if let hole = zip(candidates, candidates.dropFirst()).first(where: { $0.1.seq != $0.0.seq + 1 }) {
            return await deadLetter("seq \(hole.0.seq + 1) is missing from the outbox (next stored is \(hole.1.seq)); run `pingjia outbox verify`")
        }
        let records = fit(candidates)
        let batch = Batch(records: records, deviceId: deviceId, sentAt: DeviceTime.format(Date()), key: key)
        let body: [UInt8]
        do { body = Array(try JSONEncoder().encode(batch)) } catch { return .retry("cannot encode a batch: \(error)", after: nil) }

        let response: HubResponse
        do {
            response = try await transport.send(method: "POST", path: "/v1/devices/\(deviceId)/batches",
                                                 headers: [("Idempotency-Key", batch.idempotencyKey)], body: body)
        } catch {
            return .retry("cannot reach the hub: \(error)", after: nil)
        }
        return await handle(response, batch: batch, sync: sync)
    }

    private func handle(_ response: HubResponse, batch: Batch, sync: SyncState) async -> Step {
        switch response.status {
        case 200:
            state.resetBadSignatures()
            guard let receipt = try? JSONDecoder().decode(Receipt.self, from: Data(response.body)) else {
                return .retry("the hub's answer is not a receipt (\(response.body.count) bytes)", after: nil)
            }
            guard receipt.deviceId == deviceId, receipt.isSigned(by: hubKey), let head = ChainHash(hex: receipt.headHash) else {
                logger.error("a receipt that is not signed by the enrolled hub key was ignored", metadata: ["device": "\(deviceId)"])
                return .retry("the receipt's signature does not verify with the hub's enrolled key", after: nil)
            }
            let text = String(decoding: (try? JSONEncoder().encode(receipt)) ?? Data(), as: UTF8.self)
            let result: AcknowledgeResult
            do {
                let store = self.store, at = WireTime.format(Date())
                result = try await store.writing { store in
                    try store.acknowledge(throughSeq: receipt.throughSeq, headHash: head, receipt: text, at: at)
                }
            } catch {
                return .retry("cannot record the receipt: \(error)", after: nil)
            }
            switch result {
            case let .advanced(from, to):
                if let resend = state.resendFrom, resend <= to { state.resendFrom = nil }
                return .advanced(to: to, records: Int(to - from))
            case .unchanged:
                // The hub is refilling what it lost (we resent below our acknowledged seq)…
                if state.resendFrom != nil {
                    state.resendFrom = receipt.throughSeq + 1
                    return .resendFrom(receipt.throughSeq + 1)
                }
                // …or another pusher (`pingjia sync now` beside the daemon) got there first.
                return .retry("the receipt covers nothing new (through seq \(receipt.throughSeq))", after: nil)
            case let .beyondHead(lastSeq):
                return await deadLetter("the hub holds this device's records through seq \(receipt.throughSeq), but the outbox ends at "
                                  + "seq \(lastSeq): the kiosk's database was rolled back or replaced; keep it and contact support")
            case let .hashMismatch(seq, ours):
                return await deadLetter("the hub's head hash at seq \(seq) is \(receipt.headHash), ours is \(ours): "
                                  + "the chains differ; keep the database and contact support")
            }
        default:
            let problem = try? JSONDecoder().decode(Problem.self, from: Data(response.body))
            if response.status == 409, problem?.type == Problem.Kind.gap, let expected = problem?.expectedSeq {
                if expected > sync.lastSeq + 1 {
                    return await deadLetter("the hub expects seq \(expected), but this kiosk's outbox ends at seq \(sync.lastSeq): "
                                      + "the kiosk's database was rolled back or replaced; keep it and contact support")
                }
                if state.resendFrom == expected {
                    return .retry("the hub asked twice to resend from seq \(expected)", after: nil)
                }
                state.resendFrom = expected
                logger.notice("the hub asks to resend", metadata: ["fromSeq": "\(expected)"])
                return .resendFrom(expected)
            }
            switch Self.refusal(status: response.status, problemType: problem?.type) {
            case .permanent:
                return await deadLetter("the hub refused the batch: " + describeProblem(response))
            case .permanentIfRepeated:
                let count = state.noteBadSignature()
                if count >= Self.badSignaturesBeforeDeadLetter {
                    return await deadLetter("the hub refused the batch: " + describeProblem(response)
                                      + " (\(count) times in a row: this kiosk's key is not the one the hub enrolled)")
                }
                return .retry("the hub answered " + describeProblem(response), after: response.retryAfter)
            case .transient:
                return .retry("the hub answered " + describeProblem(response), after: response.retryAfter)
            }
        }
    }

    /// How the push loop takes a refusal.
    enum Refusal: Equatable {
        /// Sending the same records again cannot succeed: dead letter until someone deals with it.
        case permanent
        /// Permanent only when it keeps coming (`badSignaturesBeforeDeadLetter` in a row).
        case permanentIfRepeated
        /// Retried with backoff, however long it lasts.
        case transient
    }

    /// A bad signature in a row this many times is taken as final (one could come from a hub
    /// instance restored with stale data, or a proxy mangling a body).
    static let badSignaturesBeforeDeadLetter = 3

    /// Only definitive answers about this device stop sending, each named by its problem `type`
    /// (a proxy's or load balancer's own 403/404 page is not one): revoked, records that conflict
    /// with what the hub holds, a chain the hub finds broken, a bad signature that repeats.
    /// Everything else (the hub's database unavailable, an unknown device, an answer the kiosk
    /// cannot read, any status it does not know) is retried with backoff, so a kiosk catches up
    /// on its own once the hub is whole again.
    static func refusal(status: Int, problemType: String?) -> Refusal {
        switch (status, problemType) {
        case (403, Problem.Kind.revoked?), (409, Problem.Kind.conflict?), (422, Problem.Kind.chainBroken?),
             (422, Problem.Kind.idempotencyMismatch?):
            .permanent
        case (401, Problem.Kind.badSignature?):
            .permanentIfRepeated
        default:
            .transient
        }
    }

    /// Records the dead-letter state (once) and says so loudly.
    private func deadLetter(_ reason: String) async -> Step {
        let now = WireTime.format(Date())
        do { try await store.writing { try $0.setDeadLetter(reason: reason, at: now) } } catch {
            logger.error("cannot record the dead-letter state", metadata: ["error": "\(error)"])
        }
        logger.critical("ALARM: sync stopped: the hub refused this device's ratings", metadata: [
            "device": "\(deviceId)", "reason": "\(reason)",
            "action": "deal with the reason, then run `pingjia sync retry`",
        ])
        return .deadLetter(reason)
    }

    private func fit(_ records: [RatingRecord]) -> [RatingRecord] { fitBatch(records, maxBytes: settings.batchBytes) }

    // MARK: - Loops

    /// Pushes forever (until the task is cancelled): retries transient failures with backoff,
    /// stays quiet in the dead-letter state, prunes by retention when idle.
    public func run() async {
        let backoff = Backoff(base: settings.backoffBase, cap: settings.backoffCap)
        var failures = 0
        var lastPrune = ContinuousClock.now - .seconds(7200)
        var announcedDeadLetter = false
        while !Task.isCancelled {
            let step = await step()
            switch step {
            case .advanced(let to, let count):
                failures = 0
                announcedDeadLetter = false
                logger.debug("delivered", metadata: ["throughSeq": "\(to)", "records": "\(count)"])
            case .resendFrom:
                continue
            case .idle:
                failures = 0
                if let days = settings.retentionDays, days > 0, ContinuousClock.now - lastPrune > .seconds(3600) {
                    lastPrune = ContinuousClock.now
                    await prune(days: days)
                }
                try? await Task.sleep(for: settings.idlePoll)
            case let .retry(reason, after):
                failures += 1
                let delay = max(backoff.delay(afterFailures: failures), after ?? .zero)
                logger.warning("sync: will retry", metadata: ["reason": "\(reason)", "attempt": "\(failures)", "in": "\(delay)"])
                try? await store.writing { try $0.noteSyncError(reason, at: WireTime.format(Date())) }
                if await wakeSignal.sleep(for: delay) {
                    logger.info("sync: the hub is reachable again, retrying now", metadata: ["skippedBackoff": "\(delay)"])
                    failures = 0
                }
            case let .deadLetter(reason):
                if !announcedDeadLetter {
                    announcedDeadLetter = true
                    logger.critical("ALARM: sync is stopped (dead letter)", metadata: ["reason": "\(reason)"])
                }
                try? await Task.sleep(for: settings.deadLetterPoll)
            }
        }
    }

    /// Pushes until everything is delivered, the hub refuses for good, or `deadline` passes;
    /// `progress` is called after each receipt. Used by `pingjia sync now`.
    public func drain(deadline: ContinuousClock.Instant, progress: (SyncState) -> Void = { _ in }) async -> Step {
        let backoff = Backoff(base: settings.backoffBase, cap: settings.backoffCap)
        var failures = 0
        var last = Step.idle
        while ContinuousClock.now < deadline && !Task.isCancelled {
            last = await step()
            switch last {
            case .idle, .deadLetter:
                return last
            case .advanced:
                failures = 0
                if let state = try? store.syncState() { progress(state) }
            case .resendFrom:
                continue
            case let .retry(reason, after):
                failures += 1
                try? await store.writing { try $0.noteSyncError(reason, at: WireTime.format(Date())) }
                let delay = max(backoff.delay(afterFailures: failures), after ?? .zero)
                logger.warning("sync: will retry", metadata: ["reason": "\(reason)", "attempt": "\(failures)"])
                try? await Task.sleep(for: min(delay, deadline - ContinuousClock.now))
            }
        }
        return last
    }

    func prune(days: Int) async {
        let cutoff = Date().addingTimeInterval(-Double(days) * 86400)
        do {
            let removed = try await store.writing { try $0.pruneAcknowledged(ratedBefore: cutoff) }
            if removed > 0 { logger.info("pruned acknowledged ratings", metadata: ["count": "\(removed)", "olderThanDays": "\(days)"]) }
        } catch {
            logger.error("pruning failed", metadata: ["error": "\(error)"])
        }
    }
}

/// The loop's memory that is not in the store: where the hub asked us to resend from, and how
/// many bad-signature answers came in a row.
private final class LockedState: @unchecked Sendable {
    private let lock = NSLock()
    private var _resendFrom: UInt64?
    private var badSignatures = 0

    func noteBadSignature() -> Int { lock.withLock { badSignatures += 1; return badSignatures } }
    func resetBadSignatures() { lock.withLock { badSignatures = 0 } }

    var resendFrom: UInt64? {
        get { lock.lock(); defer { lock.unlock() }; return _resendFrom }
        set { lock.lock(); _resendFrom = newValue; lock.unlock() }
    }
}

/// The longest prefix of `records` whose batch encoding stays under `maxBytes` (at least one).
func fitBatch(_ records: [RatingRecord], maxBytes: Int) -> [RatingRecord] {
    let encoder = JSONEncoder()
    var total = 600   // the batch's own fields and signature
    var count = 0
    for record in records {
        let size = ((try? encoder.encode(WireRecord(record)))?.count ?? 1024) + 1
        if count > 0 && total + size > maxBytes { break }
        total += size
        count += 1
    }
    return Array(records.prefix(max(count, 1)))
}

import Foundation
import PingjiaCore
import PingjiaSyncProtocol

/// A batch that passed `Batch.verify` for the device's enrolled key.
public struct VerifiedBatch: Sendable {
    public let deviceId: String
    public let idempotencyKey: String
    /// `Batch.segmentDigest`: a reused Idempotency-Key for another chain segment is refused.
    public let requestDigest: [UInt8]
    public let fromSeq: UInt64
    public let prevHash: ChainHash
    public let records: [RatingRecord]
    public let receivedAt: Date
    public let clockOffsetMs: Int64?

    public init(deviceId: String, idempotencyKey: String, requestDigest: [UInt8], fromSeq: UInt64, prevHash: ChainHash,
                records: [RatingRecord], receivedAt: Date, clockOffsetMs: Int64?) {
        self.deviceId = deviceId
        self.idempotencyKey = idempotencyKey
        self.requestDigest = requestDigest
        self.fromSeq = fromSeq
        self.prevHash = prevHash
        self.records = records
        self.receivedAt = receivedAt
        self.clockOffsetMs = clockOffsetMs
    }

    /// The last seq the batch carries.
    public var toSeq: UInt64 { records.last?.seq ?? fromSeq }
}

public enum IngestOutcome: Sendable, Equatable {
    /// Stored (or already held); the receipt covers the device's chain through the hub's head.
    case accepted(Receipt, newRecords: Int)
    /// The same Idempotency-Key was seen before: the original receipt.
    case replayed(Receipt)
    /// The batch starts after the hub's head: resend from `expectedSeq`.
    case gap(expectedSeq: UInt64)
    /// A seq the hub holds arrives with another hash (or the chain forks): refused and alarmed.
    case conflict(seq: UInt64, detail: String)
    case idempotencyKeyReused
}

/// What an alarm is about. An open set of stable tokens (stored and shown as text), typed here.
public struct AlarmKind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }

    /// A seq the hub holds arrived with another hash.
    public static let seqConflict = AlarmKind(rawValue: "seq-conflict")
    /// The first new record does not join the hub's head: the device's chain forked.
    public static let chainFork = AlarmKind(rawValue: "chain-fork")
    /// A correctly signed batch whose own chain is broken (the device's store is damaged).
    public static let chainBroken = AlarmKind(rawValue: "chain-broken")
}

/// An alarm to record: at most once per (device, kind, seq, detail).
public struct NewAlarm: Sendable, Equatable {
    public let deviceId: String
    public let kind: AlarmKind
    public let seq: UInt64?
    public let detail: String

    public init(deviceId: String, kind: AlarmKind, seq: UInt64?, detail: String) {
        self.deviceId = deviceId
        self.kind = kind
        self.seq = seq
        self.detail = detail
    }
}

/// A recorded alarm (`pingjia-hub alarms`).
public struct Alarm: Sendable, Equatable, Codable {
    public let at: String
    public let deviceId: String
    public let kind: AlarmKind
    public let seq: UInt64?
    public let detail: String

    public init(at: String, deviceId: String, kind: AlarmKind, seq: UInt64?, detail: String) {
        self.at = at
        self.deviceId = deviceId
        self.kind = kind
        self.seq = seq
        self.detail = detail
    }
}

/// What the hub holds for a device when a batch arrives, read inside the transaction that locks
/// the device (so nobody moves the head meanwhile).
public struct IngestFacts: Sendable {
    /// The device's head: last seq held and its hash (0 and the genesis hash when none).
    public var head: UInt64
    public var headHash: ChainHash
    /// The batch's Idempotency-Key seen before: the segment digest it named and the receipt sent.
    public var seen: (requestDigest: [UInt8], receipt: String)?
    /// The hashes the hub holds for the batch's seqs at or below `head` (`IngestRules.heldRange`).
    public var held: [UInt64: ChainHash]

    public init(head: UInt64, headHash: ChainHash, seen: (requestDigest: [UInt8], receipt: String)?, held: [UInt64: ChainHash]) {
        self.head = head
        self.headHash = headHash
        self.seen = seen
        self.held = held
    }
}

/// What the store does with a batch, decided by `IngestRules.judge`.
public enum IngestDecision: Sendable, Equatable {
    /// Answer with this and write nothing.
    case answer(IngestOutcome)
    /// Record the alarm (once), then answer with the conflict.
    case alarm(NewAlarm, IngestOutcome)
    /// Insert `records` (possibly none: the batch repeated what the hub holds), move the head to
    /// (`head`, `headHash`), and record the batch with the receipt signed for that head.
    case append(records: [RatingRecord], head: UInt64, headHash: ChainHash)
}

/// The ingest rule, in one place for every backend: how a verified batch is judged against what
/// the hub holds (docs/sync-protocol.md, "What the hub checks", steps 1-5).
public enum IngestRules {
    /// The seqs whose stored hashes the judge needs: those of the batch at or below the head.
    public static func heldRange(_ batch: VerifiedBatch, head: UInt64) -> ClosedRange<UInt64>? {
        guard let first = batch.records.first?.seq, first <= head else { return nil }
        return first...min(batch.toSeq, head)
    }

    public static func judge(_ batch: VerifiedBatch, _ facts: IngestFacts) throws -> IngestDecision {
        // 1. The same Idempotency-Key: the original receipt for the same segment, else refused.
        if let seen = facts.seen {
            guard seen.requestDigest == batch.requestDigest else { return .answer(.idempotencyKeyReused) }
            return .answer(.replayed(try JSONDecoder().decode(Receipt.self, from: Data(seen.receipt.utf8))))
        }
        // 2. Starts beyond the head: resend from there.
        if batch.fromSeq > facts.head + 1 { return .answer(.gap(expectedSeq: facts.head + 1)) }
        // 3. Records the hub already holds must be the very same records.
        for record in batch.records where record.seq <= facts.head && facts.held[record.seq] != record.hash {
            let detail = "seq \(record.seq) arrived with hash \(record.hash.hex), but the hub holds "
                + (facts.held[record.seq]?.hex ?? "no record") + " for it; the stored record is kept"
            return .alarm(NewAlarm(deviceId: batch.deviceId, kind: .seqConflict, seq: record.seq, detail: detail),
                          .conflict(seq: record.seq, detail: detail))
        }
        // 4. The first new record must join the hub's head.
        if let first = batch.records.first(where: { $0.seq == facts.head + 1 }), first.prevHash != facts.headHash {
            let detail = "seq \(first.seq) has prevHash \(first.prevHash.hex), but the hub's head (seq \(facts.head)) is "
                + "\(facts.headHash.hex): the device's chain forked"
            return .alarm(NewAlarm(deviceId: batch.deviceId, kind: .chainFork, seq: first.seq, detail: detail),
                          .conflict(seq: first.seq, detail: detail))
        }
        // 5. What is new joins the chain.
        let new = batch.records.filter { $0.seq > facts.head }
        return .append(records: new, head: new.last?.seq ?? facts.head, headHash: new.last?.hash ?? facts.headHash)
    }
}

import Foundation
import GRDB

/// What the heartbeat reports about the outbox, read in one read transaction of the pool (WAL:
/// readers never wait for the writer, and the writer never waits for them), so gathering it
/// cannot delay a rating's commit.
public struct OutboxFacts: Sendable, Equatable {
    public let lastSeq: UInt64
    public let ackedThroughSeq: UInt64
    /// `rated_at` of the oldest record the hub has not acknowledged; nil when all are.
    public let oldestUnackedRatedAt: String?
    /// `rated_at` of the newest record.
    public let lastRatedAt: String?
    public let deadLetterReason: String?

    public var depth: UInt64 { lastSeq > ackedThroughSeq ? lastSeq - ackedThroughSeq : 0 }
}

extension KioskStore {
    public func outboxFacts() throws(StoreError) -> OutboxFacts {
        try read("reading the outbox for the heartbeat") { db in
            let head = try Self.head(db)
            let acked = try Int64.fetchOne(db, sql: "SELECT acked_through_seq FROM outbox_state") ?? 0
            let oldest = try String.fetchOne(db, sql: "SELECT rated_at FROM rating WHERE seq > ? ORDER BY seq LIMIT 1", arguments: [acked])
            let newest = try String.fetchOne(db, sql: "SELECT rated_at FROM rating ORDER BY seq DESC LIMIT 1")
            let deadLetter = try String.fetchOne(db, sql: "SELECT dead_letter_reason FROM sync_state")
            return OutboxFacts(lastSeq: head.seq, ackedThroughSeq: UInt64(acked), oldestUnackedRatedAt: oldest, lastRatedAt: newest,
                               deadLetterReason: deadLetter)
        }
    }
}

import Foundation
import GRDB
import PingjiaCore

/// The sync state beside the outbox: how far the hub's receipts reach, and whether the hub has
/// refused this device for good (dead letter).
public struct SyncState: Sendable, Codable, Equatable {
    public let lastSeq: UInt64
    public let ackedThroughSeq: UInt64
    public let prunedThroughSeq: UInt64
    public let deadLetterReason: String?
    public let deadLetterAt: String?
    public let lastError: String?
    public let lastErrorAt: String?
    public let lastReceiptAt: String?

    public var pending: UInt64 { lastSeq > ackedThroughSeq ? lastSeq - ackedThroughSeq : 0 }
}

/// What a receipt did to `acked_through_seq`.
public enum AcknowledgeResult: Sendable, Equatable {
    case advanced(from: UInt64, to: UInt64)
    /// Covers nothing new (an older receipt, e.g. a retried batch's).
    case unchanged
    /// The hub claims more than this device holds: the device's database was rolled back, or the
    /// receipt is for another chain.
    case beyondHead(lastSeq: UInt64)
    /// The hub's head hash at that seq is not ours: the chains differ.
    case hashMismatch(seq: UInt64, ours: String)
}

extension KioskStore {
    /// Advances `acked_through_seq` to `throughSeq`, but only when our own record at that seq has
    /// `headHash`: a receipt is checked against the chain, never taken on its word. The caller
    /// has already checked the receipt's signature.
    public func acknowledge(throughSeq: UInt64, headHash: ChainHash, receipt: String, at: String) throws(StoreError) -> AcknowledgeResult {
        try write("recording a receipt") { db in
            let head = try Self.head(db)
            let state = try Row.fetchOne(db, sql: "SELECT acked_through_seq, pruned_through_seq, pruned_head_hash FROM outbox_state")!
            let acked = UInt64(state["acked_through_seq"] as Int64)
            if throughSeq > head.seq { return .beyondHead(lastSeq: head.seq) }
            if throughSeq <= acked { return .unchanged }
            let ours: ChainHash?
            if throughSeq == UInt64(state["pruned_through_seq"] as Int64) {
                ours = ChainHash(bytes: [UInt8](state["pruned_head_hash"] as Data))
            } else {
                ours = try Data.fetchOne(db, sql: "SELECT hash FROM rating WHERE seq = ?", arguments: [Int64(throughSeq)])
                    .flatMap { ChainHash(bytes: [UInt8]($0)) }
            }
            guard let ours, ours == headHash else {
                return .hashMismatch(seq: throughSeq, ours: ours?.hex ?? "none")
            }
            try db.execute(sql: "UPDATE outbox_state SET acked_through_seq = ?", arguments: [Int64(throughSeq)])
            try db.execute(sql: "UPDATE sync_state SET last_receipt = ?, last_receipt_at = ?, last_error = NULL, last_error_at = NULL",
                           arguments: [receipt, at])
            return .advanced(from: acked, to: throughSeq)
        }
    }

    public func syncState() throws(StoreError) -> SyncState {
        try read("reading the sync state") { db in
            let head = try Self.head(db)
            let outbox = try Row.fetchOne(db, sql: "SELECT acked_through_seq, pruned_through_seq FROM outbox_state")
            let sync = try Row.fetchOne(db, sql: "SELECT * FROM sync_state")
            return SyncState(lastSeq: head.seq, ackedThroughSeq: UInt64(outbox?["acked_through_seq"] as Int64? ?? 0),
                             prunedThroughSeq: UInt64(outbox?["pruned_through_seq"] as Int64? ?? 0),
                             deadLetterReason: sync?["dead_letter_reason"], deadLetterAt: sync?["dead_letter_at"],
                             lastError: sync?["last_error"], lastErrorAt: sync?["last_error_at"],
                             lastReceiptAt: sync?["last_receipt_at"])
        }
    }

    /// The hub refused for good: stop sending until someone clears it.
    public func setDeadLetter(reason: String, at: String) throws(StoreError) {
        try write("recording the dead-letter state") { db in
            try db.execute(sql: "UPDATE sync_state SET dead_letter_reason = ?, dead_letter_at = ?", arguments: [reason, at])
        }
    }

    public func clearDeadLetter() throws(StoreError) {
        try write("clearing the dead-letter state") { db in
            try db.execute(sql: "UPDATE sync_state SET dead_letter_reason = NULL, dead_letter_at = NULL")
        }
    }

    /// The last transient failure (hub down, 5xx…), for `pingjia sync status`.
    public func noteSyncError(_ error: String, at: String) throws(StoreError) {
        try write("recording a sync error") { db in
            try db.execute(sql: "UPDATE sync_state SET last_error = ?, last_error_at = ?", arguments: [error, at])
        }
    }

    /// Removes acknowledged records rated before `cutoff` (retention), oldest first, keeping the
    /// last removed seq and hash in `outbox_state` so the remaining chain still verifies.
    /// Returns how many were removed.
    @discardableResult
    public func pruneAcknowledged(ratedBefore cutoff: Date) throws(StoreError) -> Int {
        try write("pruning acknowledged ratings") { db in
            let acked = try Int64.fetchOne(db, sql: "SELECT acked_through_seq FROM outbox_state") ?? 0
            let rows = try Row.fetchCursor(db, sql: "SELECT seq, rated_at, hash FROM rating WHERE seq <= ? ORDER BY seq", arguments: [acked])
            let parser = ISO8601DateFormatter()
            parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            var last: (seq: Int64, hash: Data)?
            var count = 0
            while let row = try rows.next() {
                // Stop at the first record that is recent (or whose time cannot be read): pruning
                // must remove a prefix of the chain, never a record in the middle.
                guard let ratedAt = parser.date(from: row["rated_at"]), ratedAt < cutoff else { break }
                last = (row["seq"], row["hash"])
                count += 1
            }
            guard let last else { return 0 }
            try db.execute(sql: "UPDATE outbox_state SET pruned_through_seq = ?, pruned_head_hash = ?", arguments: [last.seq, last.hash])
            try db.execute(sql: "DELETE FROM rating WHERE seq <= ?", arguments: [last.seq])
            return count
        }
    }
}

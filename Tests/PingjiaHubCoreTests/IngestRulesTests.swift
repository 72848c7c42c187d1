import Foundation
import PingjiaCore
import PingjiaHubCore
import PingjiaSyncProtocol
import Testing

/// The ingest rule without a database: each step of docs/sync-protocol.md's "What the hub checks".
@Suite struct IngestRulesTests {
    static let deviceId = "pj-0123456789ab"

    /// `count` chained records from seq 1.
    static func chain(_ count: Int) -> [RatingRecord] {
        var records: [RatingRecord] = []
        var previous = ChainHash.genesis
        for index in 0..<count {
            let rating = NewRating(staffId: "A1001", windowId: "3", matterCode: nil, channel: .keypad, scale: "five", level: index % 5 + 1,
                                   code: SatisfactionCode(rawValue: index % 5 + 1)!, reasons: [], comment: nil,
                                   ratedAt: "2026-11-24T10:44:00.123+08:00", monotonicNs: UInt64(index), flags: [])
            let record = RatingRecord(seq: UInt64(index + 1), deviceId: deviceId, rating: rating, prevHash: previous)
            records.append(record)
            previous = record.hash
        }
        return records
    }

    static func batch(_ records: ArraySlice<RatingRecord>, key: String = "k", digest: [UInt8] = [1]) -> VerifiedBatch {
        VerifiedBatch(deviceId: deviceId, idempotencyKey: key, requestDigest: digest, fromSeq: records.first!.seq,
                      prevHash: records.first!.prevHash, records: Array(records), receivedAt: Date(), clockOffsetMs: nil)
    }

    static func facts(holding records: ArraySlice<RatingRecord>, seen: (requestDigest: [UInt8], receipt: String)? = nil) -> IngestFacts {
        IngestFacts(head: records.last?.seq ?? 0, headHash: records.last?.hash ?? .genesis, seen: seen,
                    held: Dictionary(uniqueKeysWithValues: records.map { ($0.seq, $0.hash) }))
    }

    @Test func newRecordsAfterTheHeadAreAppended() throws {
        let chain = Self.chain(10)
        let decision = try IngestRules.judge(Self.batch(chain[3..<10]), Self.facts(holding: chain[0..<5]))
        #expect(decision == .append(records: Array(chain[5..<10]), head: 10, headHash: chain[9].hash))
        #expect(IngestRules.heldRange(Self.batch(chain[3..<10]), head: 5) == 4...5)
        #expect(IngestRules.heldRange(Self.batch(chain[5..<10]), head: 5) == nil)
    }

    @Test func aBatchOfRecordsAllHeldMovesNothing() throws {
        let chain = Self.chain(5)
        #expect(try IngestRules.judge(Self.batch(chain[0..<3]), Self.facts(holding: chain[0..<5]))
                == .append(records: [], head: 5, headHash: chain[4].hash))
    }

    @Test func aBatchBeyondTheHeadIsAGap() throws {
        let chain = Self.chain(10)
        #expect(try IngestRules.judge(Self.batch(chain[7..<10]), Self.facts(holding: chain[0..<5])) == .answer(.gap(expectedSeq: 6)))
    }

    @Test func aSeenKeyReplaysTheReceiptOrIsRefusedForAnotherSegment() throws {
        let chain = Self.chain(3)
        let receipt = Receipt(deviceId: Self.deviceId, throughSeq: 3, headHash: chain[2].hash, receivedAt: "2026-11-24T02:45:00.456Z",
                              key: SigningKey())
        let text = String(decoding: try JSONEncoder().encode(receipt), as: UTF8.self)
        let held = Self.facts(holding: chain[0..<3], seen: ([1], text))
        #expect(try IngestRules.judge(Self.batch(chain[0..<3], digest: [1]), held) == .answer(.replayed(receipt)))
        #expect(try IngestRules.judge(Self.batch(chain[0..<3], digest: [2]), held) == .answer(.idempotencyKeyReused))
    }

    @Test func aHeldSeqWithAnotherHashIsAConflictAndAnAlarm() throws {
        let chain = Self.chain(5), other = Self.chain(6)
        var facts = Self.facts(holding: chain[0..<5])
        facts.held[4] = other[5].hash
        guard case let .alarm(alarm, .conflict(seq, detail)) = try IngestRules.judge(Self.batch(chain[2..<5]), facts) else {
            Issue.record("expected a conflict")
            return
        }
        #expect(alarm == NewAlarm(deviceId: Self.deviceId, kind: .seqConflict, seq: 4, detail: detail))
        #expect(seq == 4 && detail.contains("the stored record is kept"))
    }

    @Test func aNewRecordThatDoesNotJoinTheHeadIsAFork() throws {
        let chain = Self.chain(8)
        var facts = Self.facts(holding: chain[0..<5])
        facts.headHash = ChainHash(hex: String(repeating: "ab", count: 32))!
        facts.held[5] = facts.headHash
        guard case let .alarm(alarm, .conflict(seq, detail)) = try IngestRules.judge(Self.batch(chain[5..<8]), facts) else {
            Issue.record("expected a fork")
            return
        }
        #expect(alarm.kind == .chainFork && alarm.seq == 6 && seq == 6)
        #expect(detail.contains("the device's chain forked"))
    }
}

import PingjiaCore
@testable import PingjiaHub
import Testing

/// `verifyChain` of both backends walks the stored records with `ChainWalk`: each way a stored
/// chain can be wrong gets its own verdict, at the right seq.
@Suite struct ChainWalkTests {
    static func chain(_ count: Int) -> [RatingRecord] {
        var previous = ChainHash.genesis
        return (1...count).map { seq in
            let record = RatingRecord(seq: UInt64(seq), deviceId: "pj-000000000001", rating: TestDevice.rating(seq), prevHash: previous)
            previous = record.hash
            return record
        }
    }

    static func walk(_ records: [RatingRecord?]) -> ChainVerification {
        var walk = ChainWalk()
        for record in records { if let broken = walk.next(record) { return broken } }
        return walk.intact
    }

    @Test func anIntactChainCountsItsRecords() {
        #expect(Self.walk(Self.chain(5)) == .intact(count: 5, lastSeq: 5))
        #expect(Self.walk([]) == .intact(count: 0, lastSeq: 0))
    }

    @Test func eachBreakIsNamedAtItsSeq() {
        var records = Self.chain(5)
        #expect(Self.walk(Array(records[0..<2] + records[3...])) == .broken(seq: 3, reason: "missing: the chain jumps to 4"))
        #expect(Self.walk([records[0], nil]) == .broken(seq: 2, reason: "a stored field is unreadable"))
        var altered = records[2].rating
        altered.level = 1
        records[2] = RatingRecord(seq: 3, deviceId: records[2].deviceId, rating: altered, prevHash: records[2].prevHash,
                                  storedHash: records[2].hash)
        #expect(Self.walk(records) == .broken(seq: 3, reason: "fields do not match the hash"))
        let relinked = RatingRecord(seq: 2, deviceId: records[1].deviceId, rating: records[1].rating, prevHash: .genesis)
        #expect(Self.walk([records[0], relinked]) == .broken(seq: 2, reason: "prevHash does not match seq 1"))
    }
}

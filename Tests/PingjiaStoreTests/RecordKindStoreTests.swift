import Foundation
import GRDB
import Logging
import PingjiaCore
@testable import PingjiaStore
import Testing

/// Record kinds in the kiosk store: the v3 migration keeps a store made before it readable and
/// verifiable, and the store refuses records whose kind and fields disagree.
@Suite struct RecordKindStoreTests {
    static let now = DeviceTime(wallClock: "2026-11-24T10:44:00.123+08:00", monotonicNs: 1_000)

    static func rating(level: Int) -> NewRating {
        NewRating(staffId: "A1023", windowId: "3", channel: .keypad, scale: "five", level: level,
                  code: SatisfactionCode(rawValue: level)!, ratedAt: now.wallClock, monotonicNs: now.monotonicNs)
    }

    @Test func aStoreFromBeforeRecordKindsMigratesAndStillVerifies() throws {
        try withTempDir { dir in
            let path = storePath(dir)
            // The store as the previous release left it: schema v1 + v2, one rating in PJR1.
            let old = try DatabaseQueue(path: path)
            try Schema.migrator.migrate(old, upTo: "v2: sync state")
            let record = RatingRecord(seq: 1, deviceId: deviceA, rating: Self.rating(level: 5), prevHash: .genesis)
            try old.write { db in
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('device_id', ?)", arguments: [deviceA])
                try db.execute(sql: """
                    INSERT INTO rating (seq, id, device_id, staff_id, window_id, matter_code, case_no, channel,
                        scale, level, code, reasons, comment, rated_at, monotonic_ns, flags, prev_hash, hash)
                    VALUES (1, ?, ?, 'A1023', '3', NULL, NULL, 'keypad', 'five', 5, 5, '[]', NULL, ?, 1000, '[]', ?, ?)
                    """, arguments: [record.rating.id.uuidString.lowercased(), deviceA, Self.now.wallClock,
                                     Data(ChainHash.genesis.bytes), Data(record.hash.bytes)])
            }
            try old.close()

            let store = try KioskStore.open(path: path, deviceId: deviceA, logger: Logger(label: "test"))
            defer { store.close() }
            let migrated = try store.records(after: 0)
            #expect(migrated == [record], "an old row reads back as the same rating, kind rating")
            // Old and new kinds chain on: the old rating gets its follow-up, then a 未评价.
            let followUp = try store.appendReasons(to: record.rating.id, reasons: ["slow"], comment: nil, channel: .touch,
                                                   at: Self.now, windowNs: 1_000_000_000)
            try store.append(.unrated(staffId: "A1023", windowId: "3", channel: .keypad, scale: "five", at: Self.now))
            #expect(followUp.rating.refersTo == record.rating.id)
            guard case .intact(count: 3, lastSeq: 3, _) = try store.verifyChain() else {
                Issue.record("the migrated chain must verify: \(try store.verifyChain())")
                return
            }
        }
    }

    enum Mismatch: String, CaseIterable, Sendable {
        case unratedWithALevel, unratedWithReasons, ratingWithoutACode, ratingWithRefersTo, reasonsWithoutRefersTo

        var record: NewRating {
            let unrated = NewRating.unrated(staffId: "A1", windowId: "3", channel: .keypad, scale: "five", at: RecordKindStoreTests.now)
            var record: NewRating
            switch self {
            case .unratedWithALevel: record = unrated; record.level = 3
            case .unratedWithReasons: record = unrated; record.reasons = ["slow"]
            case .ratingWithoutACode: record = RecordKindStoreTests.rating(level: 2); record.code = nil
            case .ratingWithRefersTo: record = RecordKindStoreTests.rating(level: 2); record.refersTo = UUID()
            case .reasonsWithoutRefersTo:
                record = .reasons(for: RecordKindStoreTests.rating(level: 5), reasons: [], comment: nil, channel: .touch,
                                  at: RecordKindStoreTests.now)
                record.refersTo = nil
            }
            return record
        }
    }

    @Test(arguments: Mismatch.allCases)
    func aRecordWhoseKindAndFieldsDisagreeIsRefused(_ mismatch: Mismatch) throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA, logger: Logger(label: "test"))
            defer { store.close() }
            #expect(throws: StoreError.self, "\(mismatch)") { try store.append(mismatch.record) }
            #expect(try store.records(after: 0).isEmpty)
        }
    }

    @Test func aFollowUpNamesItsRatingAndRefusesTheRest() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA, logger: Logger(label: "test"))
            defer { store.close() }
            let bad = try store.append(Self.rating(level: 4))
            let good = try store.append(Self.rating(level: 1))
            let unrated = try store.append(.unrated(staffId: "A1023", windowId: "3", channel: .keypad, scale: "five", at: Self.now))
            func refusal(_ id: UUID, at monotonic: UInt64 = 1_000) -> FollowUpRefusal? {
                do {
                    try store.appendReasons(to: id, reasons: ["slow"], comment: nil, channel: .touch,
                                            at: DeviceTime(wallClock: Self.now.wallClock, monotonicNs: monotonic), windowNs: 500)
                    return nil
                } catch {
                    guard case .followUpRefused(let refusal) = error else { return nil }
                    return refusal
                }
            }
            #expect(refusal(UUID()).map { if case .unknownRating = $0 { true } else { false } } == true)
            #expect(refusal(good.rating.id).map { if case .notABadRating = $0 { true } else { false } } == true)
            #expect(refusal(unrated.rating.id).map { if case .notABadRating = $0 { true } else { false } } == true)
            #expect(refusal(bad.rating.id, at: 1_501).map { if case .tooLate = $0 { true } else { false } } == true)
            #expect(refusal(bad.rating.id, at: 999).map { if case .tooLate = $0 { true } else { false } } == true,
                    "a monotonic time before the rating's: the device rebooted since")
            #expect(refusal(bad.rating.id, at: 1_500) == nil)
            #expect(refusal(bad.rating.id).map { if case .alreadyGiven(_, seq: 4) = $0 { true } else { false } } == true)
            #expect(try store.followUp(of: bad.rating.id)?.seq == 4)
        }
    }
}

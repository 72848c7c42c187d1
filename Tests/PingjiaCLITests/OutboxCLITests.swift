import Foundation
import PingjiaCore
import PingjiaStore
import Testing

@Suite struct OutboxCLITests {
    struct Status: Decodable {
        let deviceId: String
        let count: Int
        let lastSeq: UInt64
        let ackedThroughSeq: UInt64
        let pending: UInt64
        let headHash: String
        let journalMode: String
        let synchronous: Int
        let health: String
    }

    @Test func verifyAndStatusOnAThousandRatings() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            let db = state.appendingPathComponent("pingjia.db")
            let device = try deviceId(of: state)
            let store = try KioskStore.open(path: db.path, deviceId: device)
            var head: RatingRecord?
            for n in 1...1000 {
                head = try store.append(NewRating(staffId: "A1023", windowId: "3", channel: .keypad, scale: "five", level: 2,
                                                  code: SatisfactionCode(rawValue: 2)!, comment: "第\(n)位",
                                                  ratedAt: "2026-11-24T10:44:00.123+08:00", monotonicNs: UInt64(n)))
            }
            store.close()
            let headHash = try #require(head).hash.hex

            let verified = try pingjia(["outbox", "verify"], state: state)
            #expect(verified.status == 0, "\(verified)")
            #expect(verified.stdout.contains("chain intact: 1000 ratings through seq 1000, head \(headHash)"), "\(verified)")

            let listed = try pingjia(["outbox", "status", "--json"], state: state)
            #expect(listed.status == 0, "\(listed)")
            let status = try JSONDecoder().decode(Status.self, from: listed.stdoutBytes)
            #expect(status.deviceId == device)
            #expect(status.count == 1000 && status.lastSeq == 1000)
            #expect(status.ackedThroughSeq == 0 && status.pending == 1000)
            #expect(status.headHash == headHash)
            #expect(status.health == "ok")
            #expect(status.journalMode == "wal" && status.synchronous == 2)

            // One byte of seq 500: 工号 A1023 becomes A1024.
            try sqlite3(db, "DROP TRIGGER rating_is_immutable; UPDATE rating SET staff_id = 'A1024' WHERE seq = 500;")
            let broken = try pingjia(["outbox", "verify"], state: state)
            #expect(broken.status == 1, "\(broken)")
            #expect(broken.stderr.hasPrefix("pingjia: chain broken at seq 500:"), "\(broken)")
        }
    }

    @Test func storeThatIsNotSQLiteIsMovedAsideWithAnAlarm() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            let db = state.appendingPathComponent("pingjia.db")
            // GRDB leaves the pages of a new store in the WAL, where SQLite would keep reading
            // them whatever the main file holds. Checkpoint first, as happens in service once the
            // WAL grows, so the damage below is to the file that actually holds the store.
            try sqlite3(db, "PRAGMA wal_checkpoint(TRUNCATE);")
            #expect(!FileManager.default.fileExists(atPath: db.path + "-wal"), "the WAL should be gone after the checkpoint")

            let original = Data(String(repeating: "这不是数据库 not a database\n", count: 130).utf8.prefix(4096))
            try original.write(to: db)

            let result = try pingjia(["outbox", "status"], state: state)
            #expect(result.status == 0, "\(result)")
            let alarm = try #require(result.stdout.split(separator: "\n").first { $0.contains("ALARM") }, "no ALARM line: \(result)")
            let damaged = try #require(alarm.firstMatch(of: /damaged file kept at (\S+)/)).1
            #expect(damaged.hasPrefix(db.path + ".damaged-"), "\(alarm)")
            #expect(FileManager.default.contents(atPath: String(damaged)) == original, "the damaged file must keep its bytes")
            #expect(result.stdout.contains("store health:  recovered"), "\(result)")
            #expect(result.stderr.contains("critical") && result.stderr.contains("ALARM") && result.stderr.contains(String(damaged)),
                    "the critical log line is missing: \(result)")

            // The fresh store is in service.
            let verified = try pingjia(["outbox", "verify"], state: state)
            #expect(verified.status == 0, "\(verified)")
        }
    }
}

import Foundation
import PingjiaCore
import PingjiaStore
import Testing

/// `verifyChain` must name the first altered record whatever column a tamperer changed, working
/// on the file with the sqlite3 CLI after dropping the triggers that would stop them.
@Suite struct ChainVerificationTests {
    static let dropTriggers = "DROP TRIGGER rating_is_immutable; DROP TRIGGER rating_kept_until_acked;"

    /// One change per stored column of seq 500 (all rows of the template have every column set).
    static let tamperings: [(name: String, sql: String)] = [
        ("comment", "UPDATE rating SET comment = '等了很久，第501次' WHERE seq = 500"),
        ("level", "UPDATE rating SET level = 5 WHERE seq = 500"),
        ("code", "UPDATE rating SET code = 5 WHERE seq = 500"),
        ("staff_id", "UPDATE rating SET staff_id = 'A1024' WHERE seq = 500"),
        ("window_id", "UPDATE rating SET window_id = '4' WHERE seq = 500"),
        ("matter_code", "UPDATE rating SET matter_code = NULL WHERE seq = 500"),
        ("case_no", "UPDATE rating SET case_no = 'BJ-2026-0' WHERE seq = 500"),
        ("channel", "UPDATE rating SET channel = 'touch' WHERE seq = 500"),
        ("scale", "UPDATE rating SET scale = 'three' WHERE seq = 500"),
        ("rated_at", "UPDATE rating SET rated_at = '2026-11-24T10:44:01.123+08:00' WHERE seq = 500"),
        ("monotonic_ns", "UPDATE rating SET monotonic_ns = monotonic_ns + 1 WHERE seq = 500"),
        ("flags JSON", #"UPDATE rating SET flags = '["test"]' WHERE seq = 500"#),
        ("reasons JSON (order)", #"UPDATE rating SET reasons = '["attitude","slow"]' WHERE seq = 500"#),
        ("id", "UPDATE rating SET id = '00000000-0000-4000-8000-000000000500' WHERE seq = 500"),
        ("device_id", "UPDATE rating SET device_id = 'pj-ffffffffffff' WHERE seq = 500"),
        ("hash", "UPDATE rating SET hash = randomblob(32) WHERE seq = 500"),
        ("prev_hash", "UPDATE rating SET prev_hash = zeroblob(32) WHERE seq = 500"),
        ("seq renumbered", "UPDATE rating SET seq = 5000 WHERE seq = 500"),
        ("row deleted", "DELETE FROM rating WHERE seq = 500"),
    ]

    @Test func thousandRatingsVerifyAndEveryTamperingIsFoundAtSeq500() throws {
        try withTempDir { dir in
            let template = dir.appendingPathComponent("template.db").path
            let store = try KioskStore.open(path: template, deviceId: deviceA)
            var last: RatingRecord?
            for seq in 1...1000 {
                last = try store.append(fullRating(seq))
            }
            let result = try store.verifyChain()
            store.close()
            #expect(result == .intact(count: 1000, lastSeq: 1000, headHash: try #require(last).hash.hex))

            // Control: the copy-and-sqlite3 procedure alone leaves the chain intact, so a
            // `.broken` below is caused by the one changed value and nothing else.
            let control = try tampered(template, in: dir, name: "control", sql: "SELECT 1")
            #expect(control == .intact(count: 1000, lastSeq: 1000, headHash: try #require(last).hash.hex))

            for (name, sql) in Self.tamperings {
                let outcome = try tampered(template, in: dir, name: name, sql: sql)
                guard case .broken(let seq, let reason) = outcome else {
                    Issue.record("changing \(name) of seq 500 went unnoticed: \(outcome)")
                    continue
                }
                #expect(seq == 500, "changing \(name) of seq 500 was reported at seq \(seq): \(reason)")
                if name == "row deleted" || name == "seq renumbered" {
                    #expect(reason.contains("missing"), "\(name): \(reason)")
                }
            }
        }
    }

    /// Copies the template, applies `sql` with the triggers dropped, and verifies the copy.
    private func tampered(_ template: String, in dir: URL, name: String, sql: String) throws -> ChainVerification {
        let copyDir = dir.appendingPathComponent(UUID().uuidString, isDirectory: true)
        try FileManager.default.createDirectory(at: copyDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: copyDir) }
        let copy = storePath(copyDir)
        try copyStore(from: template, to: copy)
        try sqlite3(copy, Self.dropTriggers + sql + ";")
        let store = try KioskStore.open(path: copy, deviceId: deviceA)
        defer { store.close() }
        #expect(store.health == .ok, "\(name): the tampered copy should still open as a healthy database")
        return try store.verifyChain()
    }
}

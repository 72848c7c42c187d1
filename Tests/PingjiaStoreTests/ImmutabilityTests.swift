import Foundation
import GRDB
import PingjiaStore
import Testing

/// The schema itself refuses edits, so a bug elsewhere in the kiosk (or a careless admin with a
/// SQL shell) cannot rewrite a rating that was already acknowledged to a citizen.
@Suite struct ImmutabilityTests {
    @Test func updateAndUnacknowledgedDeleteAreRefused() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            try store.append(fullRating(1))
            try store.append(fullRating(2))

            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            let raw = try DatabaseQueue(path: storePath(dir), configuration: configuration)
            defer { try? raw.close() }

            let update = #expect(throws: DatabaseError.self) {
                try raw.write { db in try db.execute(sql: "UPDATE rating SET level = 1 WHERE seq = 1") }
            }
            #expect(update?.message?.contains("immutable") == true, "\(String(describing: update))")

            let delete = #expect(throws: DatabaseError.self) {
                try raw.write { db in try db.execute(sql: "DELETE FROM rating WHERE seq = 2") }
            }
            #expect(delete?.message?.contains("not yet acknowledged") == true, "\(String(describing: delete))")

            #expect(try store.records(after: 0).map(\.rating.level) == [4, 4])
            #expect(try store.verifyChain() == .intact(count: 2, lastSeq: 2, headHash: try store.records(after: 1)[0].hash.hex))

            // The delete trigger is about acknowledgement, not a blanket ban: once the hub's
            // receipt covers seq 1, that row may go (pruning), seq 2 still may not.
            try raw.write { db in
                try db.execute(sql: "UPDATE outbox_state SET acked_through_seq = 1")
                try db.execute(sql: "DELETE FROM rating WHERE seq = 1")
            }
            #expect(throws: DatabaseError.self) {
                try raw.write { db in try db.execute(sql: "DELETE FROM rating WHERE seq = 2") }
            }
            #expect(try store.records(after: 0).map(\.seq) == [2])
        }
    }
}

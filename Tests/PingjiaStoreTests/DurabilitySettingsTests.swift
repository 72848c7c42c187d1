import Foundation
import GRDB
import PingjiaStore
import Testing

/// DESIGN.md "Durability rule": a rating is acknowledged only after a WAL commit with
/// synchronous=FULL. These settings must hold on the connection that writes.
@Suite struct DurabilitySettingsTests {
    @Test func writerIsWALWithSynchronousFullAndBusyTimeout() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            #expect(try store.writerSynchronousMode() == 2, "the writer must use synchronous=FULL (2)")
            #expect(try store.writerPragma("journal_mode") == "wal")
            #expect(try store.writerPragma("busy_timeout") == "5000")

            // Still FULL after commits: nothing on the way resets it.
            try store.append(fullRating())
            #expect(try store.writerSynchronousMode() == 2)
            let status = try store.outboxStatus()
            #expect(status.synchronous == 2)
            #expect(status.journalMode == "wal")
        }
    }

    /// The check above could pass vacuously if every WAL connection reported FULL. GRDB's own WAL
    /// setup leaves the writer at NORMAL (1), which may lose the last commits on power loss; this
    /// is why KioskStore sets FULL after GRDB has opened the pool.
    @Test func plainGRDBPoolWouldBeNormal() throws {
        try withTempDir { dir in
            let pool = try DatabasePool(path: storePath(dir))
            defer { try? pool.close() }
            let mode = try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            #expect(mode == 1, "a plain GRDB pool is expected at NORMAL; if GRDB changed, revisit KioskStore.openChecked")
        }
    }
}

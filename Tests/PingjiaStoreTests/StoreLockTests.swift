import Foundation
import GRDB
import PingjiaCore
import PingjiaStore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The store's advisory lock keeps a damaged store in place while another process (the daemon)
/// still has it open: renaming it then would send the daemon's next ratings into the moved file.
@Suite struct StoreLockTests {
    @Test func damagedStoreHeldByAnotherProcessIsLeftInPlace() throws {
        try withTempDir { dir in
            let path = storePath(dir)
            let garbage = Data(String(repeating: "not a database\n", count: 300).utf8)
            try garbage.write(to: URL(fileURLWithPath: path))
            // What an open KioskStore in another process holds: a shared lock on pingjia.db.lock.
            let other = Glibc.open(path + ".lock", O_RDWR | O_CREAT, 0o640)
            try #require(other >= 0)
            try #require(flock(other, LOCK_SH) == 0)

            let recorder = LogRecorder()
            let error = #expect(throws: StoreError.self) {
                try KioskStore.open(path: path, deviceId: deviceA, logger: recorder.logger)
            }
            guard case .damagedInUse(let reported, _) = error else {
                Issue.record("expected damagedInUse, got \(String(describing: error))")
                Glibc.close(other)
                return
            }
            #expect(reported == path)
            #expect(error?.description.contains("stop that process") == true)
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage, "the damaged file must stay where it is")
            #expect(try files(in: dir, startingWith: "pingjia.db.damaged").isEmpty)
            #expect(recorder.entries.contains { $0.level == .critical }, "the damage is still an alarm")

            // Once the other process is gone, the next start recovers as usual.
            Glibc.close(other)
            let store = try KioskStore.open(path: path, deviceId: deviceA)
            defer { store.close() }
            guard case .recovered = store.health else {
                Issue.record("expected recovery once the lock was free, got \(store.health)")
                return
            }
            #expect(try files(in: dir, startingWith: "pingjia.db.damaged").count == 1)
        }
    }

    @Test func healthyStoreOpensBesideAnotherHolder() throws {
        try withTempDir { dir in
            let path = storePath(dir)
            let daemon = try KioskStore.open(path: path, deviceId: deviceA)
            defer { daemon.close() }
            let cli = try KioskStore.open(path: path, deviceId: deviceA)
            try cli.append(fullRating(1))
            cli.close()
            try daemon.append(fullRating(2))
            #expect(try daemon.records(after: 0).map(\.seq) == [1, 2])
        }
    }

    /// After a clean close the main file alone holds every rating: a backup or an auditor who
    /// copies only pingjia.db misses none.
    @Test func closeFoldsTheWALIntoTheMainFile() throws {
        try withTempDir { dir in
            let path = storePath(dir)
            let store = try KioskStore.open(path: path, deviceId: deviceA)
            for n in 1...25 { try store.append(fullRating(n)) }
            store.close()

            let copy = dir.appendingPathComponent("copy.db").path
            try FileManager.default.copyItem(atPath: path, toPath: copy)
            #expect(!FileManager.default.fileExists(atPath: copy + "-wal"))
            #expect(try sqlite3(copy, "SELECT count(*) FROM rating;").trimmingCharacters(in: .whitespacesAndNewlines) == "25")
        }
    }

    @Test func rosterWithIdsARatingCouldNotCarryIsRefused() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            let window = ServiceWindow(id: "3", name: "窗口 3")
            let cases: [[Staff]] = [
                [Staff(id: "A 1023", name: "张三", windowId: "3")],
                [Staff(id: "A1023", name: "张三", windowId: "3"), Staff(id: "A1023", name: "李四", windowId: "3")],
                [Staff(id: "A1023", name: "张三", windowId: "3/4")],
                [Staff(id: "A1023", name: "  ", windowId: "3")],
            ]
            for staff in cases {
                #expect(throws: StoreError.self) {
                    try store.importRoster(staff: staff, windows: [window], replace: false)
                }
            }
            #expect(try store.staff().isEmpty, "a refused roster applies nothing")
        }
    }
}

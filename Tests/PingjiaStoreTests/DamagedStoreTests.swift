import Foundation
import Logging
import PingjiaCore
import PingjiaStore
import Testing

/// DESIGN.md: at boot a damaged store raises an alarm and the kiosk keeps serving from a fresh
/// file beside the damaged one, which is never deleted.
@Suite struct DamagedStoreTests {
    @Test func fileThatIsNotSQLiteIsMovedAsideAndAFreshStoreServes() throws {
        try withTempDir { dir in
            let path = storePath(dir)
            let original = Data(String(repeating: "这不是数据库 not a database\n", count: 4096 / 34 + 1).utf8.prefix(4096))
            try original.write(to: URL(fileURLWithPath: path))
            try expectRecovered(dir: dir, path: path, originalBytes: original)
        }
    }

    @Test func storeWithOverwrittenPagesIsMovedAsideAndAFreshStoreServes() throws {
        try withTempDir { dir in
            let path = storePath(dir)
            let store = try KioskStore.open(path: path, deviceId: deviceA)
            for seq in 1...1000 { try store.append(fullRating(seq)) }
            store.close()
            // Move every page into the main file first: pages still in the WAL would be read
            // from there and hide the damage.
            try sqlite3(path, "PRAGMA wal_checkpoint(TRUNCATE);")
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let pageSize = 4096
            let pages = bytes.count / pageSize
            try #require(pages > 40, "expected a store of many pages, got \(pages)")
            // Garbage over a few pages in the middle, headers included: b-tree pages of the
            // rating table that quick_check must find malformed.
            let start = (pages / 2) * pageSize
            for offset in start..<(start + 3 * pageSize) { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 31 &+ 7) }
            try bytes.write(to: URL(fileURLWithPath: path))
            try expectRecovered(dir: dir, path: path, originalBytes: bytes)
        }
    }

    /// A missing or uncreatable directory is not damage: nothing to move aside, the error names
    /// the path. (Tests may run as root, so a directory without write permission would not fail;
    /// a regular file standing where the directory should be does.)
    @Test func directoryThatCannotHoldAStoreIsAnError() throws {
        try withTempDir { dir in
            let notADirectory = dir.appendingPathComponent("state")
            try Data("a file, not a directory".utf8).write(to: notADirectory)
            for path in [notADirectory.appendingPathComponent("pingjia.db").path,
                         dir.appendingPathComponent("missing/deeper/pingjia.db").path] {
                let recorder = LogRecorder()
                let error = #expect(throws: StoreError.self) {
                    try KioskStore.open(path: path, deviceId: deviceA, logger: recorder.logger)
                }
                guard case .cannotOpen(let reported, _) = error else {
                    Issue.record("expected cannotOpen for \(path), got \(String(describing: error))")
                    continue
                }
                #expect(reported == path)
                #expect(error?.description.contains(path) == true, "\(String(describing: error))")
                #expect(recorder.entries.isEmpty, "no damage alarm for a path that cannot be opened")
            }
            #expect(try files(in: dir, startingWith: "").sorted() == ["state"], "nothing was created or moved")
        }
    }

    @Test func openExistingRefusesAMissingStore() throws {
        try withTempDir { dir in
            let error = #expect(throws: StoreError.self) {
                try KioskStore.openExisting(path: storePath(dir), deviceId: deviceA)
            }
            guard case .notInitialized(let path) = error else {
                Issue.record("expected notInitialized, got \(String(describing: error))")
                return
            }
            #expect(path == storePath(dir))
            #expect(!FileManager.default.fileExists(atPath: storePath(dir)))
        }
    }

    /// Opens the damaged store at `path` and checks the whole recovery: alarm, damaged bytes kept
    /// beside it, a working fresh store, and the incident on record.
    private func expectRecovered(dir: URL, path: String, originalBytes: Data,
                                 sourceLocation: SourceLocation = #_sourceLocation) throws {
        let recorder = LogRecorder()
        let store = try KioskStore.open(path: path, deviceId: deviceA, logger: recorder.logger)
        guard case .recovered(let incident) = store.health else {
            store.close()
            Issue.record("damaged store opened with health \(store.health)", sourceLocation: sourceLocation)
            return
        }
        let damaged = try #require(incident.damagedFile, sourceLocation: sourceLocation)
        #expect(incident.kind == "damaged-store-moved-aside", sourceLocation: sourceLocation)
        #expect(URL(fileURLWithPath: damaged).deletingLastPathComponent().path == dir.path,
                "the damaged file stays in the store's directory", sourceLocation: sourceLocation)
        #expect(URL(fileURLWithPath: damaged).lastPathComponent.hasPrefix("pingjia.db.damaged-"), sourceLocation: sourceLocation)
        #expect(FileManager.default.contents(atPath: damaged) == originalBytes,
                "the damaged file must keep the original bytes", sourceLocation: sourceLocation)

        let alarms = recorder.entries.filter { $0.level == .critical }
        #expect(alarms.count == 1, "one critical alarm, got \(recorder.entries.map(\.message))", sourceLocation: sourceLocation)
        #expect(alarms.first?.message.contains("ALARM") == true, sourceLocation: sourceLocation)
        #expect(alarms.first?.metadata["damagedFile"]?.description == damaged, sourceLocation: sourceLocation)

        // The fresh store works and records what happened.
        let record = try store.append(fullRating(1))
        #expect(record.seq == 1 && record.prevHash == .genesis, sourceLocation: sourceLocation)
        #expect(try store.verifyChain() == .intact(count: 1, lastSeq: 1, headHash: record.hash.hex), sourceLocation: sourceLocation)
        #expect(try store.incidents() == [incident], sourceLocation: sourceLocation)
        let status = try store.outboxStatus()
        #expect(status.health == "recovered" && status.incidents == [incident], sourceLocation: sourceLocation)
        store.close()

        // Reopened, the file is healthy but the incident stays visible until someone deals with it.
        let reopened = try KioskStore.open(path: path, deviceId: deviceA, logger: recorder.logger)
        defer { reopened.close() }
        #expect(reopened.health == .ok, sourceLocation: sourceLocation)
        #expect(try reopened.outboxStatus().health == "recovered", sourceLocation: sourceLocation)
        #expect(try reopened.records(after: 0) == [record], sourceLocation: sourceLocation)
        #expect(FileManager.default.contents(atPath: damaged) == originalBytes, sourceLocation: sourceLocation)
        #expect(try files(in: dir, startingWith: "pingjia.db.damaged-").filter { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }.count == 1,
                sourceLocation: sourceLocation)
    }
}

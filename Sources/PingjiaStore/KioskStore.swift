import Foundation
import GRDB
import Logging
import PingjiaCore

/// The kiosk's one SQLite file: the rating outbox, the roster and the store's own incidents.
/// All SQL of the kiosk lives in this module.
///
/// Durability (DESIGN.md): WAL with `synchronous=FULL`, one `BEGIN IMMEDIATE … COMMIT` per rating,
/// so `append` returns only once the rating is on disk and may then be acknowledged to the citizen.
public final class KioskStore: Sendable {
    public let path: String
    public let deviceId: String
    /// How the store was found at open; `recovered` when a damaged file had to be moved aside.
    public let health: StoreHealth
    let writer: DatabasePool
    private let lock: StoreLock
    /// The thread async callers commit on (`writing`): never a thread of the cooperative pool.
    private let writes = BlockingQueue(label: "pingjia.store.writer")

    /// How long a writer waits for another process (the CLI beside the daemon) to finish.
    public static let busyTimeoutSeconds = 5.0

    /// Opens (and creates or migrates) the store at `path` for `deviceId`.
    ///
    /// If the file is not a database or fails `PRAGMA quick_check`, it is moved aside (never
    /// deleted), an alarm is logged, and a fresh store is opened so the hall keeps rating; the
    /// incident is recorded in the new store and shown by `pingjia outbox status`.
    public static func open(path: String, deviceId: String, logger: Logger = Logger(label: "pingjia.store"),
                            now: @Sendable () -> Date = Date.init) throws(StoreError) -> KioskStore {
        let lock = try StoreLock(storePath: path)
        let damage: String
        switch openChecked(path: path) {
        case .success(let pool):
            return try KioskStore(path: path, deviceId: deviceId, pool: pool, lock: lock, health: .ok)
        case .failure(.unusable(let reason)):
            damage = reason
        case .failure(.cannotOpen(let reason)):
            throw .cannotOpen(path: path, reason: reason)
        }

        let recovered: (pool: DatabasePool, movedTo: String?)? = try lock.withExclusive(waitingUpTo: 3) { () throws(StoreError) in
            // Another process that found the same damage may have recovered while this one waited
            // for the lock: then the file in place is its fresh store, which must not be moved too.
            if case .success(let pool) = openChecked(path: path) { return (pool, nil) }
            let movedTo = try moveAside(path: path, at: now())
            switch openChecked(path: path) {
            case .success(let fresh): return (fresh, movedTo)
            case .failure(.unusable(let reason)), .failure(.cannotOpen(let reason)):
                throw .cannotOpen(path: path, reason: "a fresh store could not be created either: \(reason)")
            }
        }
        guard let recovered else {
            logger.critical("ALARM: the rating store is damaged, but another process has it open", metadata: [
                "store": "\(path)", "reason": "\(damage)"])
            throw .damagedInUse(path: path, reason: damage)
        }
        guard let movedTo = recovered.movedTo else {
            return try KioskStore(path: path, deviceId: deviceId, pool: recovered.pool, lock: lock, health: .ok)
        }
        logger.critical("ALARM: the rating store was damaged and has been moved aside; a fresh store is in use", metadata: [
            "store": "\(path)", "damagedFile": "\(movedTo)", "reason": "\(damage)",
            "action": "keep the damaged file for recovery; ratings not yet synced may be in it",
        ])
        let incident = StoreIncident(at: DeviceTime.format(now()), kind: "damaged-store-moved-aside",
                                     detail: damage, damagedFile: movedTo)
        let store = try KioskStore(path: path, deviceId: deviceId, pool: recovered.pool, lock: lock, health: .recovered(incident))
        try store.record(incident)
        return store
    }

    /// Opens an existing store read-write; fails with a clear message if there is none yet.
    public static func openExisting(path: String, deviceId: String, logger: Logger = Logger(label: "pingjia.store")) throws(StoreError) -> KioskStore {
        guard FileManager.default.fileExists(atPath: path) else { throw .notInitialized(path: path) }
        return try open(path: path, deviceId: deviceId, logger: logger)
    }

    private init(path: String, deviceId: String, pool: DatabasePool, lock: StoreLock, health: StoreHealth) throws(StoreError) {
        self.path = path
        self.writer = pool
        self.lock = lock
        self.health = health
        do {
            let stored: String? = try pool.write { db in
                if let existing = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'device_id'") {
                    return existing
                }
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('device_id', ?)", arguments: [deviceId])
                return nil
            }
            if let stored, stored != deviceId {
                throw StoreError.belongsToAnotherDevice(path: path, storeDevice: stored, expected: deviceId)
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database(operation: "reading the device id", reason: "\(error)")
        }
        self.deviceId = deviceId
    }

    private enum OpenFailure: Error {
        case unusable(String)      // the file exists but is not a healthy SQLite database
        case cannotOpen(String)    // permissions, missing directory, disk full…
    }

    private static func openChecked(path: String) -> Result<DatabasePool, OpenFailure> {
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeoutSeconds)
        configuration.label = "pingjia.store"
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch let error as DatabaseError where isDamage(error) {
            return .failure(.unusable(error.message ?? "\(error.resultCode)"))
        } catch {
            return .failure(.cannotOpen("\(error)"))
        }
        do {
            // GRDB's WAL setup sets synchronous=NORMAL on the writer after any prepareDatabase
            // hook; NORMAL may lose the last commits on power loss, so set FULL here, after it.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            let check = try pool.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
            guard check == ["ok"] else {
                try? pool.close()
                return .failure(.unusable("quick_check: " + check.prefix(5).joined(separator: "; ")))
            }
            try Schema.migrator.migrate(pool)
        } catch let error as DatabaseError where isDamage(error) {
            try? pool.close()
            return .failure(.unusable(error.message ?? "\(error.resultCode)"))
        } catch {
            try? pool.close()
            return .failure(.cannotOpen("\(error)"))
        }
        return .success(pool)
    }

    private static func isDamage(_ error: DatabaseError) -> Bool {
        error.resultCode == .SQLITE_NOTADB || error.resultCode == .SQLITE_CORRUPT
    }

    /// Renames the store and its WAL/SHM files to `<name>.damaged-<UTC time>`; never deletes.
    private static func moveAside(path: String, at date: Date) throws(StoreError) -> String {
        let stamp = ISO8601DateFormatter.string(from: date, timeZone: TimeZone(identifier: "UTC")!,
                                                formatOptions: [.withYear, .withMonth, .withDay, .withTime, .withTimeZone])
        var target = "\(path).damaged-\(stamp)"
        var attempt = 1
        while FileManager.default.fileExists(atPath: target) {
            attempt += 1
            target = "\(path).damaged-\(stamp)-\(attempt)"
        }
        do {
            try FileManager.default.moveItem(atPath: path, toPath: target)
            for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                try FileManager.default.moveItem(atPath: path + suffix, toPath: target + suffix)
            }
        } catch {
            throw .cannotOpen(path: path, reason: "it is damaged and could not be moved aside to \(target): \(error)")
        }
        return target
    }

    /// Runs `body` in the writer's transaction, mapping database errors to `StoreError`.
    func write<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            // The transaction was rolled back: nothing half-written, nothing stored is touched.
            throw .diskFull(path: path, operation: operation)
        } catch {
            throw .database(operation: operation, reason: "\(error)")
        }
    }

    /// Runs `work` (writes: each a commit that waits for fsync) on the store's writer thread, in
    /// the order asked, and suspends the caller meanwhile. Every write of async code goes through
    /// here, so a slow disk never holds a thread of the cooperative pool, which serves the
    /// display's live updates, the local API and /healthz.
    public func writing<T: Sendable, E: Error>(_ work: @escaping @Sendable (KioskStore) throws(E) -> T) async throws(E) -> T {
        try await writes.run { () throws(E) -> T in try work(self) }
    }

    func read<T>(_ operation: String, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try writer.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .database(operation: operation, reason: "\(error)")
        }
    }

    /// The value of `PRAGMA synchronous` on the connection that writes (2 = FULL).
    public func writerSynchronousMode() throws(StoreError) -> Int {
        do {
            return try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        } catch {
            throw .database(operation: "reading PRAGMA synchronous", reason: "\(error)")
        }
    }

    /// The value of a PRAGMA on the writing connection, for `pingjia outbox status` and tests.
    public func writerPragma(_ name: String) throws(StoreError) -> String {
        guard name.allSatisfy({ $0.isLetter || $0 == "_" }) else { throw .database(operation: "PRAGMA", reason: "bad name \(name)") }
        do {
            return try writer.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA \(name)") ?? "" }
        } catch {
            throw .database(operation: "reading PRAGMA \(name)", reason: "\(error)")
        }
    }

    /// Folds the WAL back into `pingjia.db` and closes. After a clean stop the file alone holds
    /// every rating, so a copy of it (a backup, an auditor's) misses none.
    public func close() {
        _ = try? writer.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        try? writer.close()
        lock.release()
    }
}

public enum StoreHealth: Sendable, Equatable {
    case ok
    case recovered(StoreIncident)
}

public struct StoreIncident: Sendable, Equatable, Codable {
    public let at: String
    public let kind: String
    public let detail: String
    public let damagedFile: String?
}

extension KioskStore {
    func record(_ incident: StoreIncident) throws(StoreError) {
        try write("recording a store incident") { db in
            try db.execute(sql: "INSERT INTO store_incident (at, kind, detail, damaged_file) VALUES (?, ?, ?, ?)",
                           arguments: [incident.at, incident.kind, incident.detail, incident.damagedFile])
        }
    }

    public func incidents() throws(StoreError) -> [StoreIncident] {
        try read("reading store incidents") { db in
            try Row.fetchAll(db, sql: "SELECT at, kind, detail, damaged_file FROM store_incident ORDER BY id").map {
                StoreIncident(at: $0["at"], kind: $0["kind"], detail: $0["detail"], damagedFile: $0["damaged_file"])
            }
        }
    }
}

extension KioskStore {
    /// The SQLite library in use (the system's, through GRDB).
    public static var sqliteVersion: String {
        (try? DatabaseQueue().read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") }) .flatMap { $0 } ?? "unknown"
    }
}

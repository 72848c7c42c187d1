import Foundation
import GRDB
import PingjiaCore
import PingjiaSyncProtocol

/// The hub's embedded storage: one SQLite file (WAL, `synchronous=FULL`). All of the hub's SQL
/// lives in this file.
public final class SQLiteHubStorage: HubStorage {
    public let path: String
    let pool: DatabasePool

    public init(path: String) throws(HubError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o750])
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "pingjia.hub"
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB's WAL setup sets synchronous=NORMAL on the writer after any prepareDatabase
            // hook; NORMAL may lose the last commits on power loss, and a receipt the device
            // trusts must never cover records the hub then forgets. So FULL, here, after it.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            try Self.migrator.migrate(pool)
        } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
    }

    /// `PRAGMA synchronous` of the writing connection (2 = FULL), for tests and `status`.
    public func writerSynchronousMode() throws(HubError) -> Int {
        do {
            return try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        } catch {
            throw .database(operation: "reading PRAGMA synchronous", reason: "\(error)")
        }
    }

    public func close() {
        // Truncating: the closed file holds everything, so copying it is a backup. It waits (up to
        // the busy timeout) for other connections' readers, e.g. a `serve` on the same file.
        _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        try? pool.close()
    }

    // MARK: - Schema

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: devices, records, batches, alarms, export") { db in
            try db.execute(sql: """
                -- One row per enrollment slot: pending (code issued), active (key bound), revoked.
                CREATE TABLE device (
                    slot INTEGER PRIMARY KEY,
                    hall TEXT NOT NULL,
                    name TEXT NOT NULL,
                    code_digest BLOB UNIQUE,           -- SHA-256 of the one-time code; NULL once used
                    code_expires_at TEXT,
                    device_id TEXT UNIQUE,
                    public_key TEXT,
                    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
                    created_at TEXT NOT NULL,
                    enrolled_at TEXT,
                    revoked_at TEXT,
                    last_seq INTEGER NOT NULL DEFAULT 0,
                    head_hash BLOB NOT NULL DEFAULT (zeroblob(32)),
                    clock_offset_ms INTEGER,
                    last_batch_at TEXT
                ) STRICT;

                -- Every record of every device, exactly once: (device_id, seq) is unique and rows
                -- are never changed. ingest_id orders the export feed.
                CREATE TABLE record (
                    ingest_id INTEGER PRIMARY KEY,
                    device_id TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    id TEXT NOT NULL,
                    staff_id TEXT,
                    window_id TEXT,
                    matter_code TEXT,
                    case_no TEXT,
                    channel TEXT NOT NULL,
                    scale TEXT NOT NULL,
                    level INTEGER NOT NULL,
                    code INTEGER NOT NULL,
                    reasons TEXT NOT NULL,
                    comment TEXT,
                    rated_at TEXT NOT NULL,
                    monotonic_ns INTEGER NOT NULL,
                    flags TEXT NOT NULL,
                    prev_hash BLOB NOT NULL,
                    hash BLOB NOT NULL,
                    received_at TEXT NOT NULL,
                    UNIQUE (device_id, seq)
                ) STRICT;
                CREATE TRIGGER record_is_immutable BEFORE UPDATE ON record
                BEGIN SELECT RAISE(ABORT, 'records are immutable'); END;
                CREATE TRIGGER record_is_kept BEFORE DELETE ON record
                BEGIN SELECT RAISE(ABORT, 'records are never deleted'); END;

                -- Each accepted batch with its Idempotency-Key and the receipt sent for it.
                CREATE TABLE batch (
                    device_id TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    request_digest BLOB NOT NULL,
                    from_seq INTEGER NOT NULL,
                    to_seq INTEGER NOT NULL,
                    received_at TEXT NOT NULL,
                    clock_offset_ms INTEGER,
                    receipt TEXT NOT NULL,
                    PRIMARY KEY (device_id, idempotency_key)
                ) STRICT;

                CREATE TABLE alarm (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    seq INTEGER,
                    detail TEXT NOT NULL
                ) STRICT;

                -- How far each consumer of the export feed has acknowledged.
                CREATE TABLE export_cursor (
                    consumer TEXT PRIMARY KEY NOT NULL,
                    acked_through INTEGER NOT NULL
                ) STRICT;
                """)
        }
        migrator.registerMigration("v2: pull") { db in
            // Devices in pull mode: the hub fetches from this URL (the kiosk's sync endpoints).
            try db.execute(sql: "ALTER TABLE device ADD COLUMN pull_url TEXT")
        }
        migrator.registerMigration("v3: record kinds") { db in
            // 未评价 events and reasons follow-ups (PJR2) beside ratings; existing rows are ratings.
            // No unique index on refers_to here: the device enforces one follow-up per rating,
            // and the hub must store what a verified chain holds rather than refuse it.
            try db.execute(sql: """
                ALTER TABLE record ADD COLUMN kind TEXT NOT NULL DEFAULT 'rating';
                ALTER TABLE record ADD COLUMN refers_to TEXT;
                CREATE INDEX record_refers_to ON record (device_id, refers_to) WHERE refers_to IS NOT NULL;
                """)
        }
        migrator.registerMigration("v4: phone ratings", migrate: migratePhoneRatings)
        migrator.registerMigration("v5: cases", migrate: casesMigration)
        migrator.registerMigration("v6: fleet", migrate: fleetMigration)
        registerRemoteConfigMigration(&migrator)
        return migrator
    }

    // MARK: - Helpers

    // The async forms run the SQL on GRDB's own queues and suspend the caller: a commit waits
    // for fsync (synchronous=FULL), and blocking a thread of Swift's cooperative pool (one per
    // core) for it would stall every request this process serves, not only this one.
    func write<T: Sendable>(_ operation: String, _ body: @Sendable (Database) throws -> T) async throws(HubError) -> T {
        do {
            return try await pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let error as HubError {
            throw error
        } catch {
            throw .database(operation: operation, reason: "\(error)")
        }
    }

    func read<T: Sendable>(_ operation: String, _ body: @Sendable (Database) throws -> T) async throws(HubError) -> T {
        do {
            return try await pool.read(body)
        } catch let error as HubError {
            throw error
        } catch {
            throw .database(operation: operation, reason: "\(error)")
        }
    }

    static func entry(_ row: Row) -> DeviceEntry {
        let head: Data = row["head_hash"]
        return DeviceEntry(
            slot: row["slot"], hall: row["hall"], name: row["name"], deviceId: row["device_id"],
            publicKey: row["public_key"], status: DeviceEntry.Status(rawValue: row["status"]) ?? .revoked,
            createdAt: row["created_at"], codeExpiresAt: row["code_expires_at"],
            lastSeq: UInt64(row["last_seq"] as Int64), headHash: ChainHash(bytes: [UInt8](head))?.hex ?? "",
            clockOffsetMs: row["clock_offset_ms"], lastBatchAt: row["last_batch_at"], pullURL: row["pull_url"])
    }

    // MARK: - Devices

    public func addDevice(hall: String, name: String, codeDigest: [UInt8], expiresAt: Date, now: Date) async throws(HubError) -> Int {
        try await write("adding a device") { db in
            try db.execute(sql: """
                INSERT INTO device (hall, name, code_digest, code_expires_at, status, created_at)
                VALUES (?, ?, ?, ?, 'pending', ?)
                """, arguments: [hall, name, Data(codeDigest), WireTime.format(expiresAt), WireTime.format(now)])
            return Int(db.lastInsertedRowID)
        }
    }

    public func enroll(codeDigest: [UInt8], deviceId: String, publicKey: String, now: Date) async throws(HubError) -> DeviceEntry {
        try await write("enrolling a device") { db in
            guard let slot = try Row.fetchOne(db, sql: "SELECT slot, code_expires_at FROM device WHERE code_digest = ? AND status = 'pending'",
                                              arguments: [Data(codeDigest)]),
                  let expires = WireTime.parse(slot["code_expires_at"]), expires > now else {
                throw HubError.badCode
            }
            if try Row.fetchOne(db, sql: "SELECT 1 FROM device WHERE device_id = ?", arguments: [deviceId]) != nil {
                throw HubError.alreadyEnrolled(deviceId)
            }
            let number: Int64 = slot["slot"]
            try db.execute(sql: """
                UPDATE device SET code_digest = NULL, code_expires_at = NULL, device_id = ?, public_key = ?,
                    status = 'active', enrolled_at = ? WHERE slot = ?
                """, arguments: [deviceId, publicKey, WireTime.format(now), number])
            return Self.entry(try Row.fetchOne(db, sql: "SELECT * FROM device WHERE slot = ?", arguments: [number])!)
        }
    }

    public func revoke(deviceId: String, now: Date) async throws(HubError) -> DeviceEntry {
        try await write("revoking a device") { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM device WHERE device_id = ?", arguments: [deviceId]) != nil else {
                throw HubError.unknownDevice(deviceId)
            }
            try db.execute(sql: "UPDATE device SET status = 'revoked', revoked_at = coalesce(revoked_at, ?) WHERE device_id = ?",
                           arguments: [WireTime.format(now), deviceId])
            return Self.entry(try Row.fetchOne(db, sql: "SELECT * FROM device WHERE device_id = ?", arguments: [deviceId])!)
        }
    }

    public func setPullURL(deviceId: String, url: String?) async throws(HubError) {
        try await write("setting a pull URL") { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM device WHERE device_id = ?", arguments: [deviceId]) != nil else {
                throw HubError.unknownDevice(deviceId)
            }
            try db.execute(sql: "UPDATE device SET pull_url = ? WHERE device_id = ?", arguments: [url, deviceId])
        }
    }

    public func devices() async throws(HubError) -> [DeviceEntry] {
        try await read("listing devices") { db in try Row.fetchAll(db, sql: "SELECT * FROM device ORDER BY slot").map(Self.entry) }
    }

    public func device(id: String) async throws(HubError) -> DeviceEntry? {
        try await read("reading a device") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM device WHERE device_id = ?", arguments: [id]).map(Self.entry)
        }
    }

    // MARK: - Ingest

    public func ingest(_ batch: VerifiedBatch, sign: @Sendable (UInt64, ChainHash, String) -> Receipt) async throws(HubError) -> IngestOutcome {
        let receivedAt = WireTime.format(batch.receivedAt)
        return try await write("ingesting a batch") { db -> IngestOutcome in
            // SQLite has one writer at a time: the transaction itself locks the device.
            guard let (head, headHash) = try Self.head(db, deviceId: batch.deviceId) else {
                throw HubError.unknownDevice(batch.deviceId)
            }
            let facts = IngestFacts(head: head, headHash: headHash, seen: try Self.seenBatch(db, batch),
                                    held: try IngestRules.heldRange(batch, head: head).map { try Self.heldHashes(db, batch.deviceId, $0) } ?? [:])
            switch try IngestRules.judge(batch, facts) {
            case .answer(let outcome):
                return outcome
            case let .alarm(alarm, outcome):
                try Self.insertAlarm(db, at: receivedAt, alarm)
                return outcome
            case let .append(records, head, headHash):
                try Self.insertRecords(db, deviceId: batch.deviceId, records, receivedAt: receivedAt)
                let receipt = sign(head, headHash, receivedAt)
                try Self.moveHead(db, batch, head: head, headHash: headHash, receivedAt: receivedAt)
                try Self.insertBatch(db, batch, receivedAt: receivedAt, receipt: receipt)
                return .accepted(receipt, newRecords: records.count)
            }
        }
    }

    static func head(_ db: Database, deviceId: String) throws -> (UInt64, ChainHash)? {
        try Row.fetchOne(db, sql: "SELECT last_seq, head_hash FROM device WHERE device_id = ?", arguments: [deviceId]).map {
            (UInt64($0["last_seq"] as Int64), ChainHash(bytes: [UInt8]($0["head_hash"] as Data)) ?? .genesis)
        }
    }

    static func seenBatch(_ db: Database, _ batch: VerifiedBatch) throws -> (requestDigest: [UInt8], receipt: String)? {
        try Row.fetchOne(db, sql: "SELECT request_digest, receipt FROM batch WHERE device_id = ? AND idempotency_key = ?",
                         arguments: [batch.deviceId, batch.idempotencyKey]).map { ([UInt8]($0["request_digest"] as Data), $0["receipt"]) }
    }

    static func heldHashes(_ db: Database, _ deviceId: String, _ seqs: ClosedRange<UInt64>) throws -> [UInt64: ChainHash] {
        var held: [UInt64: ChainHash] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT seq, hash FROM record WHERE device_id = ? AND seq BETWEEN ? AND ?",
                                    arguments: [deviceId, Int64(seqs.lowerBound), Int64(seqs.upperBound)]) {
            held[UInt64(row["seq"] as Int64)] = ChainHash(bytes: [UInt8](row["hash"] as Data))
        }
        return held
    }

    static func insertRecords(_ db: Database, deviceId: String, _ records: [RatingRecord], receivedAt: String) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO record (device_id, seq, id, staff_id, window_id, matter_code, case_no, channel, scale,
                level, code, reasons, comment, rated_at, monotonic_ns, flags, prev_hash, hash, received_at,
                kind, refers_to)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for record in records {
            let rating = record.rating
            try statement.execute(arguments: [
                deviceId, Int64(record.seq), rating.id.uuidString.lowercased(), rating.staffId, rating.windowId,
                rating.matterCode, rating.caseNo, rating.channel.rawValue, rating.scale, rating.level,
                rating.code?.rawValue ?? 0, json(rating.reasons), rating.comment, rating.ratedAt,
                Int64(bitPattern: rating.monotonicNs),
                json(rating.flags.map(\.rawValue).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }),
                Data(record.prevHash.bytes), Data(record.hash.bytes), receivedAt,
                rating.kind.rawValue, rating.refersTo?.uuidString.lowercased(),
            ])
        }
    }

    static func moveHead(_ db: Database, _ batch: VerifiedBatch, head: UInt64, headHash: ChainHash, receivedAt: String) throws {
        try db.execute(sql: """
            UPDATE device SET last_seq = ?, head_hash = ?, clock_offset_ms = coalesce(?, clock_offset_ms), last_batch_at = ?
            WHERE device_id = ?
            """, arguments: [Int64(head), Data(headHash.bytes), batch.clockOffsetMs, receivedAt, batch.deviceId])
    }

    static func insertBatch(_ db: Database, _ batch: VerifiedBatch, receivedAt: String, receipt: Receipt) throws {
        try db.execute(sql: """
            INSERT INTO batch (device_id, idempotency_key, request_digest, from_seq, to_seq, received_at, clock_offset_ms, receipt)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [batch.deviceId, batch.idempotencyKey, Data(batch.requestDigest), Int64(batch.fromSeq),
                             Int64(batch.toSeq), receivedAt, batch.clockOffsetMs,
                             String(decoding: try JSONEncoder().encode(receipt), as: UTF8.self)])
    }

    /// Records an alarm outside an ingest (e.g. a batch whose chain was broken inside itself).
    public func raiseAlarm(_ alarm: NewAlarm, at: Date) async throws(HubError) {
        try await write("recording an alarm") { db in try Self.insertAlarm(db, at: WireTime.format(at), alarm) }
    }

    /// One alarm per problem: a device retrying the same refused batch (its request timed out,
    /// say) does not raise it again.
    static func insertAlarm(_ db: Database, at: String, _ alarm: NewAlarm) throws {
        let (deviceId, kind, seq, detail) = (alarm.deviceId, alarm.kind.rawValue, alarm.seq.map { Int64($0) }, alarm.detail)
        try db.execute(sql: """
            INSERT INTO alarm (at, device_id, kind, seq, detail)
            SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (
                SELECT 1 FROM alarm WHERE device_id = ? AND kind = ? AND seq IS ? AND detail = ?)
            """, arguments: [at, deviceId, kind, seq, detail, deviceId, kind, seq, detail])
    }

    public func chain(deviceId: String) async throws(HubError) -> [(seq: UInt64, hash: ChainHash)] {
        try await read("reading a chain") { db in
            try Row.fetchAll(db, sql: "SELECT seq, hash FROM record WHERE device_id = ? ORDER BY seq", arguments: [deviceId]).map {
                (UInt64($0["seq"] as Int64), ChainHash(bytes: [UInt8]($0["hash"] as Data)) ?? .genesis)
            }
        }
    }

    public func verifyChain(deviceId: String) async throws(HubError) -> ChainVerification {
        try await read("verifying a chain") { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM record WHERE device_id = ? ORDER BY seq", arguments: [deviceId])
            var walk = ChainWalk()
            while let row = try rows.next() {
                if let broken = walk.next(Self.record(row)) { return broken }
            }
            return walk.intact
        }
    }

    public func alarms() async throws(HubError) -> [Alarm] {
        try await read("reading alarms") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alarm ORDER BY id").map {
                Alarm(at: $0["at"], deviceId: $0["device_id"], kind: AlarmKind(rawValue: $0["kind"]),
                      seq: ($0["seq"] as Int64?).map { UInt64($0) }, detail: $0["detail"])
            }
        }
    }

    // MARK: - Export

    public func exportRecords(after cursor: Int64, limit: Int) async throws(HubError) -> [ExportedRecord] {
        try await read("reading the export feed") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM record WHERE ingest_id > ? ORDER BY ingest_id LIMIT ?",
                             arguments: [cursor, limit]).compactMap { row in
                Self.record(row).map { ExportedRecord(cursor: row["ingest_id"], record: $0, receivedAt: row["received_at"]) }
            }
        }
    }

    public func exportCursor(consumer: String) async throws(HubError) -> Int64 {
        try await read("reading an export cursor") { db in
            try Int64.fetchOne(db, sql: "SELECT acked_through FROM export_cursor WHERE consumer = ?", arguments: [consumer]) ?? 0
        }
    }

    public func acknowledgeExport(consumer: String, through cursor: Int64) async throws(HubError) {
        try await write("acknowledging the export feed") { db in
            let highest = try Int64.fetchOne(db, sql: "SELECT coalesce(max(ingest_id), 0) FROM record") ?? 0
            guard cursor <= highest else {
                throw HubError.invalid("cursor \(cursor) is beyond the last exported record (\(highest))")
            }
            try db.execute(sql: """
                INSERT INTO export_cursor (consumer, acked_through) VALUES (?, ?)
                ON CONFLICT (consumer) DO UPDATE SET acked_through = max(acked_through, excluded.acked_through)
                """, arguments: [consumer, cursor])
        }
    }

    // MARK: - Row mapping

    static func record(_ row: Row) -> RatingRecord? {
        guard let idText: String = row["id"], let id = UUID(uuidString: idText),
              let channel = RatingChannel(rawValue: row["channel"]),
              let kind = RecordKind(rawValue: (row["kind"] as String?) ?? RecordKind.rating.rawValue) else { return nil }
        // 未评价 is stored with code 0; every other kind has a GB/T code.
        let code = SatisfactionCode(rawValue: row["code"])
        var refersTo: UUID?
        if let text: String = row["refers_to"] {
            guard let target = UUID(uuidString: text) else { return nil }
            refersTo = target
        }
        guard code != nil || kind == .unrated,
              let reasons = stringArray(row["reasons"]), let flags = stringArray(row["flags"]),
              let prev = ChainHash(bytes: [UInt8](row["prev_hash"] as Data)),
              let hash = ChainHash(bytes: [UInt8](row["hash"] as Data)) else { return nil }
        let rating = NewRating(id: id, kind: kind, refersTo: refersTo, staffId: row["staff_id"], windowId: row["window_id"],
                               matterCode: row["matter_code"],
                               caseNo: row["case_no"], channel: channel, scale: row["scale"], level: row["level"], code: code,
                               reasons: reasons, comment: row["comment"], ratedAt: row["rated_at"],
                               monotonicNs: UInt64(bitPattern: row["monotonic_ns"] as Int64),
                               flags: Set(flags.map(RatingFlag.init(rawValue:))))
        return RatingRecord(seq: UInt64(row["seq"] as Int64), deviceId: row["device_id"], rating: rating,
                            prevHash: prev, storedHash: hash)
    }

    static func json(_ strings: [String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: strings, options: [.withoutEscapingSlashes])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func stringArray(_ text: String?) -> [String]? {
        guard let text, let data = text.data(using: .utf8) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String]
    }
}

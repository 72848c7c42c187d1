import Foundation
import Logging
import PingjiaCore
import PingjiaSyncProtocol
import PostgresNIO

/// The hub's storage for a province: PostgreSQL, shared by several stateless hub instances.
/// All of the hub's PostgreSQL SQL lives in this file.
///
/// Exactly-once with several instances rests on three things: `(device_id, seq)` is the primary
/// key; `ingest` locks the device row (the chain head) with `FOR UPDATE` before it judges a
/// batch, so two instances handling the same device's retries take turns; and export cursors
/// are given out under one advisory lock held to commit, so they grow in commit order and a
/// reader never steps over a record that commits later.
public final class PostgresHubStorage: HubStorage {
    /// Where the database is, for messages (never the password).
    public let location: String
    let schema: String?
    let client: PostgresClient
    let runner: Task<Void, Never>
    let logger: Logger

    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Connects to `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]` and brings the
    /// schema to the current version. Several instances may start at once: migrations run under
    /// an advisory lock, one instance at a time, and each applies only what is missing.
    public init(url: String, maxConnections: Int = 20, logger: Logger = Logger(label: "pingjia.hub.postgres")) async throws(HubError) {
        let parsed = try Self.parse(url)
        // One plain connection first: the pool retries a refused connection for a minute and then
        // reports only that it gave up; this says at once what the server answered.
        do {
            let probe = try await PostgresConnection.connect(
                configuration: .init(host: parsed.host, port: parsed.port, username: parsed.user, password: parsed.password,
                                     database: parsed.database, tls: .disable),
                id: 0, logger: logger)
            try await probe.close()
        } catch {
            throw .invalid("cannot connect to the hub database \(parsed.location): \(Self.describe(error)). "
                           + "Check that PostgreSQL runs there and that the user and the database exist")
        }
        location = parsed.location
        schema = parsed.schema
        self.logger = logger
        var configuration = PostgresClient.Configuration(host: parsed.host, port: parsed.port, username: parsed.user,
                                                         password: parsed.password, database: parsed.database, tls: .disable)
        configuration.options.maximumConnections = maxConnections
        if let schema = parsed.schema {
            // Every pooled connection starts with the schema on its path: the SQL here names no schema.
            configuration.options.additionalStartupParameters = [("search_path", "\"\(schema)\"")]
        }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
        do {
            try await migrate()
        } catch {
            await close()
            throw .invalid("cannot prepare the hub database \(parsed.location): \(error.description). "
                           + "Check that the user may create tables (and the schema) in the database")
        }
    }

    public func close() async {
        runner.cancel()
        await runner.value
    }

    // MARK: - Location

    /// The URL as logs may show it: without the password.
    public static func location(of url: String) throws(HubError) -> String { try parse(url).location }

    struct Parsed {
        var host: String
        var port: Int
        var user: String
        var password: String?
        var database: String
        var schema: String?
        var location: String
    }

    static func parse(_ url: String) throws(HubError) -> Parsed {
        let usage = "use postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME]"
        guard isURL(url), let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw .invalid("--db '\(url)' is not a PostgreSQL URL: \(usage)")
        }
        guard let user = components.user, !user.isEmpty else { throw .invalid("--db '\(url)' names no user: \(usage)") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw .invalid("--db '\(url)' names no database: \(usage)") }
        var schema: String?
        for item in components.queryItems ?? [] {
            guard item.name == "schema", let value = item.value else {
                throw .invalid("--db '\(url)': unknown parameter '\(item.name)'; only schema=NAME is understood")
            }
            // Quoted into DDL and the search path, so only plain names.
            guard value.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil else {
                throw .invalid("--db '\(url)': schema '\(value)' must be lowercase letters, digits and _ (at most 63)")
            }
            schema = value
        }
        let port = components.port ?? 5432
        return Parsed(host: host, port: port, user: user, password: components.password, database: database, schema: schema,
                      location: "postgres://\(user)@\(host):\(port)/\(database)" + (schema.map { "?schema=\($0)" } ?? ""))
    }

    // MARK: - Schema

    /// Versioned migrations, applied in order, each once. Statements one by one: the extended
    /// protocol takes one statement per query.
    static let migrations: [(version: Int, name: String, statements: [String])] = [
        (1, "devices, records, batches, alarms, export", [
            """
            CREATE TABLE device (
                slot bigserial PRIMARY KEY,
                hall text NOT NULL,
                name text NOT NULL,
                code_digest bytea UNIQUE,             -- SHA-256 of the one-time code; NULL once used
                code_expires_at text,
                device_id text UNIQUE,
                public_key text,
                status text NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
                created_at text NOT NULL,
                enrolled_at text,
                revoked_at text,
                last_seq bigint NOT NULL DEFAULT 0,   -- the chain head: ingest locks this row
                head_hash bytea NOT NULL DEFAULT '\\x0000000000000000000000000000000000000000000000000000000000000000',
                clock_offset_ms bigint,
                last_batch_at text,
                pull_url text
            )
            """,
            // Export cursors, handed out under the export lock (see `ingest`).
            "CREATE SEQUENCE record_ingest_id",
            """
            CREATE TABLE record (
                device_id text NOT NULL,
                seq bigint NOT NULL,
                ingest_id bigint NOT NULL UNIQUE,
                id uuid NOT NULL,
                kind text NOT NULL DEFAULT 'rating',
                refers_to text,
                staff_id text,
                window_id text,
                matter_code text,
                case_no text,
                channel text NOT NULL,
                scale text NOT NULL,
                level integer NOT NULL,
                code integer NOT NULL,
                reasons text[] NOT NULL,
                comment text,
                rated_at text NOT NULL,
                monotonic_ns bigint NOT NULL,
                flags text[] NOT NULL,
                prev_hash bytea NOT NULL,
                hash bytea NOT NULL,
                received_at text NOT NULL,
                PRIMARY KEY (device_id, seq)
            )
            """,
            // Finds the reasons that follow a rating. Not unique: the device enforces one follow-up
            // per rating, and the hub stores what a verified chain holds rather than refuse it.
            "CREATE INDEX record_refers_to ON record (device_id, refers_to) WHERE refers_to IS NOT NULL",
            """
            CREATE FUNCTION record_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'records are immutable and never deleted'; END $$
            """,
            "CREATE TRIGGER record_is_immutable BEFORE UPDATE OR DELETE ON record FOR EACH ROW EXECUTE FUNCTION record_is_immutable()",
            """
            CREATE TABLE batch (
                device_id text NOT NULL,
                idempotency_key text NOT NULL,
                request_digest bytea NOT NULL,
                from_seq bigint NOT NULL,
                to_seq bigint NOT NULL,
                received_at text NOT NULL,
                clock_offset_ms bigint,
                receipt text NOT NULL,
                PRIMARY KEY (device_id, idempotency_key)
            )
            """,
            """
            CREATE TABLE alarm (
                id bigserial PRIMARY KEY,
                at text NOT NULL,
                device_id text NOT NULL,
                kind text NOT NULL,
                seq bigint,
                detail text NOT NULL
            )
            """,
            "CREATE TABLE export_cursor (consumer text PRIMARY KEY, acked_through bigint NOT NULL)",
        ]),
        // Reports count ratings by staff, by window and by day over a time range; rated_at is the
        // device's local time (one offset in a province), so its text sorts as time does.
        (2, "report indexes", [
            "CREATE INDEX record_by_staff ON record (staff_id, rated_at) INCLUDE (level, code, kind)",
            "CREATE INDEX record_by_window ON record (window_id, rated_at) INCLUDE (level, code, kind)",
            "CREATE INDEX record_by_time ON record (rated_at) INCLUDE (level, code, kind)",
        ]),
        (4, "phone ratings", phoneRatingStatements),
        (5, "cases", casesMigration),
        (6, "fleet", fleetMigration),
        remoteConfigMigration,
    ]

    private func migrate() async throws(HubError) {
        let schema = self.schema
        try await transaction("migrating the schema") { connection in
            // One instance at a time; the others wait here and then find nothing left to do.
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.migrationLock), hashtext(\(schema ?? "")))", logger: self.logger)
            if let schema {
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: "\"\(schema)\"")", logger: self.logger)
            }
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migration (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: self.logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migration", logger: self.logger).decode(Int.self) {
                applied.insert(version)
            }
            for migration in Self.migrations where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: self.logger)
                }
                try await connection.query("INSERT INTO schema_migration (version, name) VALUES (\(migration.version), \(migration.name))",
                                           logger: self.logger)
            }
        }
    }

    /// Advisory lock classes (first key of the two-key form).
    static let migrationLock: Int32 = 0x504A_0001
    static let exportLock: Int32 = 0x504A_0002

    /// Schema version this build knows (for `status` and tests).
    public static var schemaVersion: Int { migrations.map(\.version).max() ?? 0 }

    // MARK: - Helpers

    /// One transaction on one pooled connection. Serialization failures and deadlocks are
    /// retried: the body runs again from the start, so it must do nothing but SQL.
    func transaction<T: Sendable>(_ operation: String,
                                          _ body: (PostgresConnection) async throws -> T) async throws(HubError) -> T {
        var attempt = 0
        while true {
            do {
                return try await client.withConnection { connection in
                    try await connection.query("BEGIN", logger: self.logger)
                    do {
                        let value = try await body(connection)
                        try await connection.query("COMMIT", logger: self.logger)
                        return value
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: self.logger)
                        throw error
                    }
                }
            } catch let error as HubError {
                throw error
            } catch let error as PSQLError where Self.isTransient(error) && attempt < 10 {
                attempt += 1
                logger.debug("transaction retried", metadata: ["operation": "\(operation)", "attempt": "\(attempt)"])
                try? await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << min(attempt, 6)))))
            } catch {
                throw .database(operation: operation, reason: Self.describe(error))
            }
        }
    }

    func read<T: Sendable>(_ operation: String, _ body: (PostgresConnection) async throws -> T) async throws(HubError) -> T {
        do {
            return try await client.withConnection { connection in try await body(connection) }
        } catch let error as HubError {
            throw error
        } catch {
            throw .database(operation: operation, reason: Self.describe(error))
        }
    }

    static func isTransient(_ error: PSQLError) -> Bool {
        // serialization_failure, deadlock_detected
        ["40001", "40P01"].contains(error.serverInfo?[.sqlState] ?? "")
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
            }
            return "\(error.code)" + (error.underlying.map { ": \(String(describing: $0))" } ?? "")
        }
        return String(reflecting: error)
    }

    static let deviceColumns = """
        slot, hall, name, device_id, public_key, status, created_at, code_expires_at, last_seq, encode(head_hash, 'hex'),
        clock_offset_ms, last_batch_at, pull_url
        """

    static func entry(_ row: PostgresRow) throws -> DeviceEntry {
        let (slot, hall, name, deviceId, publicKey, status, createdAt, expires, lastSeq, head, offset, lastBatch, pull) =
            try row.decode((Int64, String, String, String?, String?, String, String, String?, Int64, String, Int64?, String?, String?).self)
        return DeviceEntry(slot: Int(slot), hall: hall, name: name, deviceId: deviceId, publicKey: publicKey,
                           status: DeviceEntry.Status(rawValue: status) ?? .revoked, createdAt: createdAt, codeExpiresAt: expires,
                           lastSeq: UInt64(lastSeq), headHash: head, clockOffsetMs: offset, lastBatchAt: lastBatch, pullURL: pull)
    }

    func oneDevice(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> DeviceEntry? {
        for try await row in try await connection.query(query, logger: logger) { return try Self.entry(row) }
        return nil
    }

    // MARK: - Devices

    public func addDevice(hall: String, name: String, codeDigest: [UInt8], expiresAt: Date, now: Date) async throws(HubError) -> Int {
        let digest = Self.hex(codeDigest)
        return try await transaction("adding a device") { connection in
            let rows = try await connection.query("""
                INSERT INTO device (hall, name, code_digest, code_expires_at, status, created_at)
                VALUES (\(hall), \(name), decode(\(digest), 'hex'), \(WireTime.format(expiresAt)), 'pending', \(WireTime.format(now)))
                RETURNING slot
                """, logger: self.logger)
            for try await slot in rows.decode(Int64.self) { return Int(slot) }
            throw HubError.database(operation: "adding a device", reason: "INSERT returned no slot")
        }
    }

    public func enroll(codeDigest: [UInt8], deviceId: String, publicKey: String, now: Date) async throws(HubError) -> DeviceEntry {
        let digest = Self.hex(codeDigest)
        return try await transaction("enrolling a device") { connection in
            var slot: (Int64, String?)?
            for try await row in try await connection.query(
                "SELECT slot, code_expires_at FROM device WHERE code_digest = decode(\(digest), 'hex') AND status = 'pending' FOR UPDATE",
                logger: self.logger).decode((Int64, String?).self) {
                slot = row
            }
            guard let slot, let expires = slot.1.flatMap(WireTime.parse), expires > now else { throw HubError.badCode }
            if try await self.oneDevice(connection, "SELECT \(unescaped: Self.deviceColumns) FROM device WHERE device_id = \(deviceId)") != nil {
                throw HubError.alreadyEnrolled(deviceId)
            }
            try await connection.query("""
                UPDATE device SET code_digest = NULL, code_expires_at = NULL, device_id = \(deviceId), public_key = \(publicKey),
                    status = 'active', enrolled_at = \(WireTime.format(now)) WHERE slot = \(slot.0)
                """, logger: self.logger)
            guard let entry = try await self.oneDevice(connection, "SELECT \(unescaped: Self.deviceColumns) FROM device WHERE slot = \(slot.0)") else {
                throw HubError.database(operation: "enrolling a device", reason: "slot \(slot.0) vanished")
            }
            return entry
        }
    }

    public func revoke(deviceId: String, now: Date) async throws(HubError) -> DeviceEntry {
        try await transaction("revoking a device") { connection in
            try await connection.query(
                "UPDATE device SET status = 'revoked', revoked_at = coalesce(revoked_at, \(WireTime.format(now))) WHERE device_id = \(deviceId)",
                logger: self.logger)
            guard let entry = try await self.oneDevice(connection, "SELECT \(unescaped: Self.deviceColumns) FROM device WHERE device_id = \(deviceId)") else {
                throw HubError.unknownDevice(deviceId)
            }
            return entry
        }
    }

    public func setPullURL(deviceId: String, url: String?) async throws(HubError) {
        try await transaction("setting a pull URL") { connection in
            var found = false
            for try await _ in try await connection.query(
                "UPDATE device SET pull_url = \(url) WHERE device_id = \(deviceId) RETURNING slot", logger: self.logger) {
                found = true
            }
            if !found { throw HubError.unknownDevice(deviceId) }
        }
    }

    public func devices() async throws(HubError) -> [DeviceEntry] {
        try await read("listing devices") { connection in
            var entries: [DeviceEntry] = []
            for try await row in try await connection.query("SELECT \(unescaped: Self.deviceColumns) FROM device ORDER BY slot", logger: self.logger) {
                entries.append(try Self.entry(row))
            }
            return entries
        }
    }

    public func device(id: String) async throws(HubError) -> DeviceEntry? {
        try await read("reading a device") { connection in
            try await self.oneDevice(connection, "SELECT \(unescaped: Self.deviceColumns) FROM device WHERE device_id = \(id)")
        }
    }

    // MARK: - Ingest

    /// One new record as `jsonb_to_recordset` reads it: the whole batch is one bind parameter and
    /// one INSERT, however many records it has.
    struct NewRow: Encodable {
        let seq: Int64
        let id: String
        let kind: String
        let refersTo: String?
        let staffId: String?
        let windowId: String?
        let matterCode: String?
        let caseNo: String?
        let channel: String
        let scale: String
        let level: Int
        let code: Int
        let reasons: [String]
        let comment: String?
        let ratedAt: String
        let monotonicNs: Int64
        let flags: [String]
        let prevHash: String
        let hash: String
    }

    static func newRow(_ record: RatingRecord) -> NewRow {
        let rating = record.rating
        // 未评价 has no code: stored as 0, as SQLite does.
        return NewRow(seq: Int64(record.seq), id: rating.id.uuidString.lowercased(), kind: rating.kind.rawValue,
                      refersTo: rating.refersTo?.uuidString.lowercased(),
                      staffId: rating.staffId, windowId: rating.windowId, matterCode: rating.matterCode, caseNo: rating.caseNo,
                      channel: rating.channel.rawValue, scale: rating.scale, level: rating.level, code: rating.code?.rawValue ?? 0,
                      reasons: rating.reasons, comment: rating.comment, ratedAt: rating.ratedAt,
                      monotonicNs: Int64(bitPattern: rating.monotonicNs), flags: rating.flags.map(\.rawValue).sorted(),
                      prevHash: record.prevHash.hex, hash: record.hash.hex)
    }

    /// Column names as `jsonb_to_recordset` expects them.
    static let rowEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    public func ingest(_ batch: VerifiedBatch, sign: @Sendable (UInt64, ChainHash, String) -> Receipt) async throws(HubError) -> IngestOutcome {
        let receivedAt = WireTime.format(batch.receivedAt)
        return try await transaction("ingesting a batch") { connection -> IngestOutcome in
            // The chain head, locked: another instance ingesting this device waits here until we commit,
            // then reads the head we left. Everything is judged against a head nobody can move.
            guard let (head, headHash) = try await self.lockedHead(connection, deviceId: batch.deviceId) else {
                throw HubError.unknownDevice(batch.deviceId)
            }
            var held: [UInt64: ChainHash] = [:]
            if let seqs = IngestRules.heldRange(batch, head: head) { held = try await self.heldHashes(connection, batch.deviceId, seqs) }
            let facts = IngestFacts(head: head, headHash: headHash, seen: try await self.seenBatch(connection, batch), held: held)
            switch try IngestRules.judge(batch, facts) {
            case .answer(let outcome):
                return outcome
            case let .alarm(alarm, outcome):
                try await self.insertAlarm(connection, at: receivedAt, alarm)
                return outcome
            case let .append(records, head, headHash):
                try await self.insertRecords(connection, deviceId: batch.deviceId, records, receivedAt: receivedAt)
                let receipt = sign(head, headHash, receivedAt)
                try await self.moveHead(connection, batch, head: head, headHash: headHash, receivedAt: receivedAt)
                try await self.insertBatch(connection, batch, receivedAt: receivedAt, receipt: receipt)
                return .accepted(receipt, newRecords: records.count)
            }
        }
    }

    func lockedHead(_ connection: PostgresConnection, deviceId: String) async throws -> (UInt64, ChainHash)? {
        for try await (seq, hash) in try await connection.query(
            "SELECT last_seq, encode(head_hash, 'hex') FROM device WHERE device_id = \(deviceId) FOR UPDATE",
            logger: logger).decode((Int64, String).self) {
            return (UInt64(seq), ChainHash(hex: hash) ?? .genesis)
        }
        return nil
    }

    func seenBatch(_ connection: PostgresConnection, _ batch: VerifiedBatch) async throws -> (requestDigest: [UInt8], receipt: String)? {
        for try await (digest, receipt) in try await connection.query(
            "SELECT request_digest, receipt FROM batch WHERE device_id = \(batch.deviceId) AND idempotency_key = \(batch.idempotencyKey)",
            logger: logger).decode((Data, String).self) {
            return ([UInt8](digest), receipt)
        }
        return nil
    }

    func heldHashes(_ connection: PostgresConnection, _ deviceId: String, _ seqs: ClosedRange<UInt64>) async throws -> [UInt64: ChainHash] {
        var held: [UInt64: ChainHash] = [:]
        for try await (seq, hash) in try await connection.query("""
            SELECT seq, encode(hash, 'hex') FROM record
            WHERE device_id = \(deviceId) AND seq BETWEEN \(Int64(seqs.lowerBound)) AND \(Int64(seqs.upperBound))
            """, logger: logger).decode((Int64, String).self) {
            held[UInt64(seq)] = ChainHash(hex: hash)
        }
        return held
    }

    func insertRecords(_ connection: PostgresConnection, deviceId: String, _ records: [RatingRecord], receivedAt: String) async throws {
        guard !records.isEmpty else { return }
        let rows = String(decoding: try Self.rowEncoder.encode(records.map(Self.newRow)), as: UTF8.self)
        // Export cursors in commit order: held to commit, this lock makes every later
        // cursor belong to a later commit (the device row lock is always taken first).
        try await connection.query("SELECT pg_advisory_xact_lock(\(Self.exportLock), 0)", logger: logger)
        try await connection.query("""
            INSERT INTO record (device_id, seq, ingest_id, id, kind, refers_to, staff_id, window_id, matter_code, case_no,
                channel, scale, level, code, reasons, comment, rated_at, monotonic_ns, flags, prev_hash, hash, received_at)
            SELECT \(deviceId), r.seq, nextval('record_ingest_id'), r.id, r.kind, r.refers_to, r.staff_id, r.window_id,
                r.matter_code, r.case_no, r.channel, r.scale, r.level, r.code, r.reasons, r.comment, r.rated_at,
                r.monotonic_ns, r.flags, decode(r.prev_hash, 'hex'), decode(r.hash, 'hex'), \(receivedAt)
            FROM (SELECT * FROM jsonb_to_recordset(\(rows)::jsonb) AS x(
                    seq bigint, id uuid, kind text, refers_to text, staff_id text, window_id text, matter_code text,
                    case_no text, channel text, scale text, level integer, code integer, reasons text[], comment text,
                    rated_at text, monotonic_ns bigint, flags text[], prev_hash text, hash text)
                  ORDER BY seq) AS r
            """, logger: logger)
    }

    func moveHead(_ connection: PostgresConnection, _ batch: VerifiedBatch, head: UInt64, headHash: ChainHash,
                  receivedAt: String) async throws {
        try await connection.query("""
            UPDATE device SET last_seq = \(Int64(head)), head_hash = decode(\(headHash.hex), 'hex'),
                clock_offset_ms = coalesce(\(batch.clockOffsetMs), clock_offset_ms), last_batch_at = \(receivedAt)
            WHERE device_id = \(batch.deviceId)
            """, logger: logger)
    }

    func insertBatch(_ connection: PostgresConnection, _ batch: VerifiedBatch, receivedAt: String, receipt: Receipt) async throws {
        let receiptText = String(decoding: try JSONEncoder().encode(receipt), as: UTF8.self)
        try await connection.query("""
            INSERT INTO batch (device_id, idempotency_key, request_digest, from_seq, to_seq, received_at, clock_offset_ms, receipt)
            VALUES (\(batch.deviceId), \(batch.idempotencyKey), decode(\(Self.hex(batch.requestDigest)), 'hex'), \(Int64(batch.fromSeq)),
                    \(Int64(batch.toSeq)), \(receivedAt), \(batch.clockOffsetMs), \(receiptText))
            """, logger: logger)
    }

    public func raiseAlarm(_ alarm: NewAlarm, at: Date) async throws(HubError) {
        try await transaction("recording an alarm") { connection in
            try await self.insertAlarm(connection, at: WireTime.format(at), alarm)
        }
    }

    /// One alarm per problem: a device retrying the same refused batch does not raise it again.
    func insertAlarm(_ connection: PostgresConnection, at: String, _ alarm: NewAlarm) async throws {
        let (deviceId, kind, seq, detail) = (alarm.deviceId, alarm.kind.rawValue, alarm.seq.map { Int64($0) }, alarm.detail)
        try await connection.query("""
            INSERT INTO alarm (at, device_id, kind, seq, detail)
            SELECT \(at), \(deviceId), \(kind), \(seq), \(detail) WHERE NOT EXISTS (
                SELECT 1 FROM alarm WHERE device_id = \(deviceId) AND kind = \(kind) AND seq IS NOT DISTINCT FROM \(seq)::bigint
                    AND detail = \(detail))
            """, logger: logger)
    }

    public func chain(deviceId: String) async throws(HubError) -> [(seq: UInt64, hash: ChainHash)] {
        try await read("reading a chain") { connection in
            var chain: [(seq: UInt64, hash: ChainHash)] = []
            for try await (seq, hash) in try await connection.query(
                "SELECT seq, encode(hash, 'hex') FROM record WHERE device_id = \(deviceId) ORDER BY seq",
                logger: self.logger).decode((Int64, String).self) {
                chain.append((UInt64(seq), ChainHash(hex: hash) ?? .genesis))
            }
            return chain
        }
    }

    static let recordColumns = """
        ingest_id, device_id, seq, id, staff_id, window_id, matter_code, case_no, channel, scale, level, code, reasons,
        comment, rated_at, monotonic_ns, flags, encode(prev_hash, 'hex'), encode(hash, 'hex'), received_at, kind, refers_to
        """

    /// A stored record with its export cursor and receive time; nil when a field cannot be read.
    static func record(_ row: PostgresRow) throws -> (cursor: Int64, record: RatingRecord?, receivedAt: String) {
        let cells = row.makeRandomAccess()
        let cursor = try cells[0].decode(Int64.self)
        let receivedAt = try cells[19].decode(String.self)
        let refersText = try cells[21].decode(String?.self)
        let code = SatisfactionCode(rawValue: try cells[11].decode(Int.self))
        guard let channel = RatingChannel(rawValue: try cells[8].decode(String.self)),
              let kind = RecordKind(rawValue: try cells[20].decode(String.self)),
              code != nil || kind == .unrated,
              refersText == nil || UUID(uuidString: refersText ?? "") != nil,
              let prev = ChainHash(hex: try cells[17].decode(String.self)),
              let hash = ChainHash(hex: try cells[18].decode(String.self)) else { return (cursor, nil, receivedAt) }
        let rating = NewRating(id: try cells[3].decode(UUID.self), kind: kind, refersTo: refersText.flatMap(UUID.init(uuidString:)),
                               staffId: try cells[4].decode(String?.self),
                               windowId: try cells[5].decode(String?.self), matterCode: try cells[6].decode(String?.self),
                               caseNo: try cells[7].decode(String?.self), channel: channel, scale: try cells[9].decode(String.self),
                               level: try cells[10].decode(Int.self), code: code, reasons: try cells[12].decode([String].self),
                               comment: try cells[13].decode(String?.self), ratedAt: try cells[14].decode(String.self),
                               monotonicNs: UInt64(bitPattern: try cells[15].decode(Int64.self)),
                               flags: Set(try cells[16].decode([String].self).map(RatingFlag.init(rawValue:))))
        let record = RatingRecord(seq: UInt64(try cells[2].decode(Int64.self)), deviceId: try cells[1].decode(String.self),
                                  rating: rating, prevHash: prev, storedHash: hash)
        return (cursor, record, receivedAt)
    }

    public func verifyChain(deviceId: String) async throws(HubError) -> ChainVerification {
        try await read("verifying a chain") { connection in
            var walk = ChainWalk()
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.recordColumns) FROM record WHERE device_id = \(deviceId) ORDER BY seq", logger: self.logger) {
                if let broken = walk.next(try Self.record(row).record) { return broken }
            }
            return walk.intact
        }
    }

    public func alarms() async throws(HubError) -> [Alarm] {
        try await read("reading alarms") { connection in
            var alarms: [Alarm] = []
            for try await (at, deviceId, kind, seq, detail) in try await connection.query(
                "SELECT at, device_id, kind, seq, detail FROM alarm ORDER BY id", logger: self.logger
            ).decode((String, String, String, Int64?, String).self) {
                alarms.append(Alarm(at: at, deviceId: deviceId, kind: AlarmKind(rawValue: kind), seq: seq.map { UInt64($0) }, detail: detail))
            }
            return alarms
        }
    }

    // MARK: - Export

    public func exportRecords(after cursor: Int64, limit: Int) async throws(HubError) -> [ExportedRecord] {
        try await read("reading the export feed") { connection in
            var records: [ExportedRecord] = []
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.recordColumns) FROM record WHERE ingest_id > \(cursor) ORDER BY ingest_id LIMIT \(Int64(limit))",
                logger: self.logger) {
                let stored = try Self.record(row)
                if let record = stored.record {
                    records.append(ExportedRecord(cursor: stored.cursor, record: record, receivedAt: stored.receivedAt))
                }
            }
            return records
        }
    }

    public func exportCursor(consumer: String) async throws(HubError) -> Int64 {
        try await read("reading an export cursor") { connection in
            for try await cursor in try await connection.query(
                "SELECT acked_through FROM export_cursor WHERE consumer = \(consumer)", logger: self.logger).decode(Int64.self) {
                return cursor
            }
            return 0
        }
    }

    public func acknowledgeExport(consumer: String, through cursor: Int64) async throws(HubError) {
        try await transaction("acknowledging the export feed") { connection in
            var highest: Int64 = 0
            for try await value in try await connection.query(
                "SELECT coalesce(max(ingest_id), 0)::int8 FROM record", logger: self.logger).decode(Int64.self) {
                highest = value
            }
            guard cursor <= highest else {
                throw HubError.invalid("cursor \(cursor) is beyond the last exported record (\(highest))")
            }
            try await connection.query("""
                INSERT INTO export_cursor (consumer, acked_through) VALUES (\(consumer), \(cursor))
                ON CONFLICT (consumer) DO UPDATE SET acked_through = greatest(export_cursor.acked_through, excluded.acked_through)
                """, logger: self.logger)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

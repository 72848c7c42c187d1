import Foundation
import PingjiaCore
import PingjiaSyncProtocol
import PostgresNIO

/// Admin users and sessions, 差评 cases and their audit trail, report aggregates: PostgreSQL.
extension PostgresHubStorage: CaseStorage {
    static let casesMigration: [String] = [
        """
        CREATE TABLE admin_user (
            name text PRIMARY KEY,
            role text NOT NULL CHECK (role IN ('manager', 'auditor')),
            hall text,
            password_hash text NOT NULL,          -- pbkdf2-sha256$rounds$salt$key
            created_at text NOT NULL,
            updated_at text NOT NULL,
            CHECK ((role = 'manager') = (hall IS NOT NULL))
        )
        """,
        """
        CREATE TABLE admin_session (
            token_digest text PRIMARY KEY,        -- SHA-256 of the cookie token
            user_name text NOT NULL REFERENCES admin_user (name),
            csrf_token text NOT NULL,
            created_at text NOT NULL,
            expires_at text NOT NULL              -- hub UTC text: compares as time
        )
        """,
        """
        CREATE TABLE bad_case (
            id bigserial PRIMARY KEY,
            source text NOT NULL CHECK (source IN ('device', 'phone')),
            rating_id text NOT NULL,
            hall text NOT NULL,
            device_id text NOT NULL,
            staff_id text,
            window_id text,
            matter_code text,
            code integer NOT NULL,
            reasons text NOT NULL,                -- JSON array
            comment text,
            rated_at text NOT NULL,
            opened_at text NOT NULL,
            state text NOT NULL CHECK (state IN ('pending', 'verified', 'rectified', 'visited', 'closed', 'appeal')),
            state_since text NOT NULL,
            verdict text CHECK (verdict IN ('valid', 'mistaken', 'malicious')),
            follow_up_result text,
            appeal_from text,
            appealed boolean NOT NULL DEFAULT false,
            UNIQUE (source, rating_id)
        )
        """,
        "CREATE INDEX bad_case_by_state ON bad_case (state, hall)",
        """
        CREATE TABLE case_event (
            id bigserial PRIMARY KEY,
            case_id bigint NOT NULL REFERENCES bad_case (id),
            at text NOT NULL,
            actor text NOT NULL,
            action text NOT NULL,
            from_state text,
            to_state text NOT NULL,
            note text NOT NULL
        )
        """,
        "CREATE INDEX case_event_by_case ON case_event (case_id, id)",
        """
        CREATE FUNCTION case_event_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the case audit log is append-only'; END $$
        """,
        "CREATE TRIGGER case_event_is_immutable BEFORE UPDATE OR DELETE ON case_event FOR EACH ROW EXECUTE FUNCTION case_event_is_immutable()",
        // The sweep looks only at 差评.
        "CREATE INDEX record_bad ON record (ingest_id) WHERE kind = 'rating' AND code >= 4",
        // How far the sweep has looked at the records (ingest_id), so it reads only new ones.
        "CREATE TABLE case_sweep (source text PRIMARY KEY, through bigint NOT NULL)",
    ]

    // MARK: - Users and sessions

    static let userColumns = "u.name, u.role, u.hall, u.password_hash"

    static func user(_ row: PostgresRow) throws -> AdminUserRecord? {
        let (name, role, hall, hash) = try row.decode((String, String, String?, String).self)
        guard let role = AdminUserRecord.Role(rawValue: role) else { return nil }
        return AdminUserRecord(name: name, role: role, hall: hall, passwordHash: hash)
    }

    public func addUser(_ user: AdminUserRecord, now: Date) async throws(HubError) {
        let at = WireTime.format(now)
        try await transaction("adding an admin user") { connection in
            var inserted = false
            for try await _ in try await connection.query("""
                INSERT INTO admin_user (name, role, hall, password_hash, created_at, updated_at)
                VALUES (\(user.name), \(user.role.rawValue), \(user.hall), \(user.passwordHash), \(at), \(at))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: self.logger) {
                inserted = true
            }
            if !inserted {
                throw HubError.invalid("user '\(user.name)' exists already: change the password with `pingjia-hub users passwd \(user.name)`")
            }
        }
    }

    public func setPassword(name: String, passwordHash: String, now: Date) async throws(HubError) {
        try await transaction("changing a password") { connection in
            var found = false
            for try await _ in try await connection.query("""
                UPDATE admin_user SET password_hash = \(passwordHash), updated_at = \(WireTime.format(now)) WHERE name = \(name) RETURNING name
                """, logger: self.logger) {
                found = true
            }
            if !found { throw HubError.invalid("no user '\(name)': see `pingjia-hub users list`") }
            try await connection.query("DELETE FROM admin_session WHERE user_name = \(name)", logger: self.logger)
        }
    }

    public func removeUser(name: String) async throws(HubError) {
        try await transaction("removing an admin user") { connection in
            try await connection.query("DELETE FROM admin_session WHERE user_name = \(name)", logger: self.logger)
            var found = false
            for try await _ in try await connection.query("DELETE FROM admin_user WHERE name = \(name) RETURNING name", logger: self.logger) {
                found = true
            }
            if !found { throw HubError.invalid("no user '\(name)': see `pingjia-hub users list`") }
        }
    }

    public func adminUsers() async throws(HubError) -> [AdminUserRecord] {
        try await read("listing admin users") { connection in
            var users: [AdminUserRecord] = []
            for try await row in try await connection.query("SELECT \(unescaped: Self.userColumns) FROM admin_user u ORDER BY u.name",
                                                            logger: self.logger) {
                if let user = try Self.user(row) { users.append(user) }
            }
            return users
        }
    }

    public func adminUser(name: String) async throws(HubError) -> AdminUserRecord? {
        try await read("reading an admin user") { connection in
            for try await row in try await connection.query("SELECT \(unescaped: Self.userColumns) FROM admin_user u WHERE u.name = \(name)",
                                                            logger: self.logger) {
                return try Self.user(row)
            }
            return nil
        }
    }

    public func createSession(tokenDigest: String, userName: String, csrfToken: String, createdAt: Date, expiresAt: Date) async throws(HubError) {
        try await transaction("starting a session") { connection in
            try await connection.query("""
                INSERT INTO admin_session (token_digest, user_name, csrf_token, created_at, expires_at)
                VALUES (\(tokenDigest), \(userName), \(csrfToken), \(WireTime.format(createdAt)), \(WireTime.format(expiresAt)))
                """, logger: self.logger)
        }
    }

    public func session(tokenDigest: String, now: Date) async throws(HubError) -> AdminSessionRecord? {
        try await read("reading a session") { connection in
            for try await row in try await connection.query("""
                SELECT \(unescaped: Self.userColumns), s.csrf_token, s.expires_at
                FROM admin_session s JOIN admin_user u ON u.name = s.user_name
                WHERE s.token_digest = \(tokenDigest) AND s.expires_at > \(WireTime.format(now))
                """, logger: self.logger) {
                let (name, role, hall, hash, csrf, expires) = try row.decode((String, String, String?, String, String, String).self)
                guard let role = AdminUserRecord.Role(rawValue: role), let expiresAt = WireTime.parse(expires) else { return nil }
                return AdminSessionRecord(user: AdminUserRecord(name: name, role: role, hall: hall, passwordHash: hash),
                                          csrfToken: csrf, expiresAt: expiresAt)
            }
            return nil
        }
    }

    public func deleteSession(tokenDigest: String) async throws(HubError) {
        try await transaction("ending a session") { connection in
            try await connection.query("DELETE FROM admin_session WHERE token_digest = \(tokenDigest)", logger: self.logger)
        }
    }

    public func deleteSessions(userName: String?, expiredBefore: Date) async throws(HubError) {
        try await transaction("ending sessions") { connection in
            try await connection.query("""
                DELETE FROM admin_session WHERE user_name = \(userName) OR expires_at <= \(WireTime.format(expiredBefore))
                """, logger: self.logger)
        }
    }

    // MARK: - Cases

    public func openCases() async throws(HubError) -> Int {
        try await transaction("opening 差评 cases") { connection in
            // Instances sweeping at once: the unique (source, rating_id) makes the second insert of
            // a rating wait for the first and then do nothing. A case is open from when the hub
            // received the rating, however late the sweep runs.
            // Export cursors (ingest_id) are handed out in commit order (see `ingest`): once the
            // highest is seen committed, every lower one is too, so the sweep reads only the
            // records between its mark and that head, and moves the mark there.
            var mark: Int64 = 0, head: Int64 = 0
            for try await value in try await connection.query("SELECT through FROM case_sweep WHERE source = 'device'",
                                                              logger: self.logger).decode(Int64.self) {
                mark = value
            }
            for try await value in try await connection.query("SELECT coalesce(max(ingest_id), 0)::int8 FROM record",
                                                              logger: self.logger).decode(Int64.self) {
                head = value
            }
            var opened = 0
            for try await count in try await connection.query("""
                WITH opened AS (
                    INSERT INTO bad_case (source, rating_id, hall, device_id, staff_id, window_id, matter_code, code, reasons,
                        comment, rated_at, opened_at, state, state_since)
                    SELECT 'device', r.id::text, d.hall, r.device_id, r.staff_id, r.window_id, r.matter_code, r.code,
                        to_json(r.reasons)::text, r.comment, r.rated_at, r.received_at, 'pending', r.received_at
                    FROM record r JOIN device d ON d.device_id = r.device_id
                    WHERE r.ingest_id > \(mark) AND r.ingest_id <= \(head)
                        AND r.kind = 'rating' AND r.code >= 4 AND cardinality(r.flags) = 0
                        AND NOT EXISTS (SELECT 1 FROM bad_case c WHERE c.source = 'device' AND c.rating_id = r.id::text)
                    ORDER BY r.ingest_id
                    ON CONFLICT (source, rating_id) DO NOTHING
                    RETURNING 1)
                SELECT count(*) FROM opened
                """, logger: self.logger).decode(Int64.self) {
                opened += Int(count)
            }
            try await connection.query("""
                INSERT INTO case_sweep (source, through) VALUES ('device', \(head))
                ON CONFLICT (source) DO UPDATE SET through = greatest(case_sweep.through, excluded.through)
                """, logger: self.logger)
            opened += try await self.openPhoneCases(connection)
            return opened
        }
    }

    static let caseColumns = """
        id, source, rating_id, hall, device_id, staff_id, window_id, matter_code, code, reasons, comment, rated_at, opened_at,
        state, state_since, verdict, follow_up_result, appeal_from, appealed
        """

    static func caseEntry(_ row: PostgresRow) throws -> CaseEntry? {
        let columns = row.makeRandomAccess()
        let stateText = try columns[13].decode(String.self)
        guard let state = CaseState(rawValue: stateText) else { return nil }
        let reasonsText = try columns[9].decode(String.self)
        let reasons = (try? JSONDecoder().decode([String].self, from: Data(reasonsText.utf8))) ?? []
        return CaseEntry(
            id: try columns[0].decode(Int64.self), source: try columns[1].decode(String.self),
            ratingId: try columns[2].decode(String.self), hall: try columns[3].decode(String.self),
            deviceId: try columns[4].decode(String.self), staffId: try columns[5].decode(String?.self),
            windowId: try columns[6].decode(String?.self), matterCode: try columns[7].decode(String?.self),
            code: Int(try columns[8].decode(Int32.self)), reasons: reasons, comment: try columns[10].decode(String?.self),
            ratedAt: try columns[11].decode(String.self), openedAt: try columns[12].decode(String.self), state: state,
            stateSince: try columns[14].decode(String.self),
            verdict: try columns[15].decode(String?.self).flatMap(CaseVerdict.init(rawValue:)),
            followUpResult: try columns[16].decode(String?.self),
            appealFrom: try columns[17].decode(String?.self).flatMap(CaseState.init(rawValue:)),
            appealed: try columns[18].decode(Bool.self))
    }

    public func cases(states: Set<CaseState>?, hall: String?, limit: Int) async throws(HubError) -> [CaseEntry] {
        let anyState = states == nil
        let stateList = (states ?? []).map(\.rawValue).sorted()
        return try await read("listing cases") { connection in
            var entries: [CaseEntry] = []
            for try await row in try await connection.query("""
                SELECT \(unescaped: Self.caseColumns) FROM bad_case
                WHERE (\(anyState) OR state = ANY (\(stateList)::text[])) AND (\(hall)::text IS NULL OR hall = \(hall))
                ORDER BY id DESC LIMIT \(limit)
                """, logger: self.logger) {
                if let entry = try Self.caseEntry(row) { entries.append(entry) }
            }
            return entries
        }
    }

    public func caseEntry(id: Int64) async throws(HubError) -> CaseEntry? {
        try await read("reading a case") { connection in
            var found: CaseEntry?
            for try await row in try await connection.query("SELECT \(unescaped: Self.caseColumns) FROM bad_case WHERE id = \(id)",
                                                            logger: self.logger) {
                found = try Self.caseEntry(row)
            }
            guard var entry = found, entry.source == "device" else { return found }
            for try await (reasons, comment) in try await connection.query("""
                SELECT reasons, comment FROM record
                WHERE device_id = \(entry.deviceId) AND refers_to = \(entry.ratingId) AND kind = 'reasons' ORDER BY seq
                """, logger: self.logger).decode(([String], String?).self) {
                for reason in reasons where !entry.reasons.contains(reason) { entry.reasons.append(reason) }
                entry.comment = entry.comment ?? comment
            }
            return entry
        }
    }

    public func caseEvents(id: Int64) async throws(HubError) -> [CaseEvent] {
        try await read("reading a case's audit trail") { connection in
            var events: [CaseEvent] = []
            for try await (at, actor, action, from, to, note) in try await connection.query("""
                SELECT at, actor, action, from_state, to_state, note FROM case_event WHERE case_id = \(id) ORDER BY id
                """, logger: self.logger).decode((String, String, String, String?, String, String).self) {
                guard let toState = CaseState(rawValue: to) else { continue }
                events.append(CaseEvent(at: at, actor: actor, action: action, fromState: from.flatMap(CaseState.init(rawValue:)),
                                        toState: toState, note: note))
            }
            return events
        }
    }

    public func transition(id: Int64, change: CaseChange, event: CaseEvent) async throws(HubError) -> Bool {
        try await transaction("changing a case") { connection in
            var updated = false
            for try await _ in try await connection.query("""
                UPDATE bad_case SET state = \(change.to.rawValue), state_since = \(change.at),
                    verdict = coalesce(\(change.verdict?.rawValue)::text, verdict),
                    follow_up_result = coalesce(\(change.followUpResult)::text, follow_up_result),
                    appeal_from = CASE WHEN \(change.clearAppealFrom) THEN NULL ELSE coalesce(\(change.appealFrom?.rawValue)::text, appeal_from) END,
                    appealed = coalesce(\(change.appealed)::boolean, appealed)
                WHERE id = \(id) AND state = \(change.from.rawValue)
                RETURNING id
                """, logger: self.logger) {
                updated = true
            }
            guard updated else { return false }
            try await connection.query("""
                INSERT INTO case_event (case_id, at, actor, action, from_state, to_state, note)
                VALUES (\(id), \(event.at), \(event.actor), \(event.action), \(event.fromState?.rawValue), \(event.toState.rawValue), \(event.note))
                """, logger: self.logger)
            return true
        }
    }

    // MARK: - Reports

    public func report(_ query: ReportQuery) async throws(HubError) -> [ReportCounts] {
        let localDay = Self.localTime("r")
        let key = Self.reportKey(query.by, "r")
        let phoneKey = Self.reportKey(query.by, "p"), phoneDay = Self.localTime("p")
        let from = query.from, to = query.to, hall = query.hall
        guard let (lower, upper) = query.textBounds else { throw .invalid("report dates must be YYYY-MM-DD: \(from), \(to)") }
        return try await read("computing a report") { connection in
            let sql: PostgresQuery = """
                WITH items AS (
                    SELECT \(unescaped: key) AS k, r.kind AS kind, r.code AS code, c.verdict AS verdict, c.follow_up_result AS follow_up
                    FROM record r JOIN device d ON d.device_id = r.device_id
                    LEFT JOIN bad_case c ON c.source = 'device' AND c.rating_id = r.id::text
                    WHERE r.kind IN ('rating', 'unrated') AND cardinality(r.flags) = 0
                        -- A 未评价 the citizen answered on the phone (token nonce = session id) counts as the phone rating only.
                        AND NOT (r.kind = 'unrated' AND EXISTS (
                            SELECT 1 FROM phone_rating p WHERE p.token_nonce = r.id::text AND p.device_id = r.device_id))
                        AND r.rated_at >= \(lower) AND r.rated_at < \(upper)
                        AND \(unescaped: localDay)::date BETWEEN \(from)::date AND \(to)::date
                        AND (\(hall)::text IS NULL OR d.hall = \(hall))
                    UNION ALL
                    SELECT \(unescaped: phoneKey), 'rating', p.code, c.verdict, c.follow_up_result
                    FROM phone_rating p LEFT JOIN bad_case c ON c.source = 'phone' AND c.rating_id = p.rating_id
                    WHERE \(unescaped: phoneDay)::date BETWEEN \(from)::date AND \(to)::date
                        AND (\(hall)::text IS NULL OR p.hall = \(hall)))
                SELECT k, kind, code::int8, verdict, follow_up IS NOT NULL, count(*)
                FROM items GROUP BY 1, 2, 3, 4, 5
                """
            var cells: [ReportCell] = []
            for try await (k, kind, code, verdict, followedUp, n) in try await connection.query(sql, logger: self.logger)
                .decode((String, String, Int64, String?, Bool, Int64).self) {
                cells.append(ReportCell(key: k, kind: RecordKind(rawValue: kind) ?? .rating, code: Int(code),
                                        verdict: verdict.flatMap(Verdict.init(rawValue:)), followedUp: followedUp, count: Int(n)))
            }
            return ReportFolding.fold(cells)
        }
    }

    /// The local time (Asia/Shanghai) of the rows of `table`: device text with any offset, or timestamptz.
    static func localTime(_ table: String) -> String { "(\(table).rated_at::timestamptz AT TIME ZONE 'Asia/Shanghai')" }

    /// The grouping column of a report, of the rows of `table` (an alias).
    static func reportKey(_ by: ReportQuery.Grouping?, _ table: String) -> String {
        switch by {
        case .staff: "coalesce(\(table).staff_id, '')"
        case .window: "coalesce(\(table).window_id, '')"
        case .matter: "coalesce(\(table).matter_code, '')"
        case .day: "to_char(\(localTime(table)), 'YYYY-MM-DD')"
        case nil: "''"
        }
    }

    // MARK: - Phone ratings (the phone page's phone_rating table)

    /// Opens cases for phone 差评, from when the phone rating reached the hub (its timestamptz
    /// as the hub's UTC text, like every other time in bad_case).
    func openPhoneCases(_ connection: PostgresConnection) async throws -> Int {
        let utc = #"to_char(p.rated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#
        var opened = 0
        for try await count in try await connection.query("""
            WITH opened AS (
                INSERT INTO bad_case (source, rating_id, hall, device_id, staff_id, window_id, matter_code, code, reasons,
                    comment, rated_at, opened_at, state, state_since)
                SELECT 'phone', p.rating_id, p.hall, p.device_id, p.staff_id, p.window_id, p.matter_code, p.code, p.reasons,
                    p.comment, \(unescaped: utc), \(unescaped: utc), 'pending', \(unescaped: utc)
                FROM phone_rating p
                WHERE p.code >= 4 AND NOT EXISTS (SELECT 1 FROM bad_case c WHERE c.source = 'phone' AND c.rating_id = p.rating_id)
                ORDER BY p.id
                ON CONFLICT (source, rating_id) DO NOTHING
                RETURNING 1)
            SELECT count(*) FROM opened
            """, logger: logger).decode(Int64.self) {
            opened += Int(count)
        }
        return opened
    }
}

import Foundation
import PingjiaCore
import GRDB
import PingjiaSyncProtocol

/// Admin users and sessions, 差评 cases and their audit trail, report aggregates: SQLite.
extension SQLiteHubStorage: CaseStorage {
    static func casesMigration(_ db: Database) throws {
        try db.execute(sql: """
            -- Admin users: a hall manager has a hall, an auditor none (all halls).
            CREATE TABLE admin_user (
                name TEXT PRIMARY KEY NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('manager', 'auditor')),
                hall TEXT,
                password_hash TEXT NOT NULL,        -- pbkdf2-sha256$rounds$salt$key
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                CHECK ((role = 'manager') = (hall IS NOT NULL))
            ) STRICT;

            -- Server-side sessions, keyed by the SHA-256 of the cookie token.
            CREATE TABLE admin_session (
                token_digest TEXT PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL REFERENCES admin_user (name),
                csrf_token TEXT NOT NULL,
                created_at TEXT NOT NULL,
                expires_at TEXT NOT NULL             -- hub UTC text: compares as time
            ) STRICT;

            -- One case per 差评 (device record or phone rating), opened by the sweep.
            CREATE TABLE bad_case (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL CHECK (source IN ('device', 'phone')),
                rating_id TEXT NOT NULL,
                hall TEXT NOT NULL,
                device_id TEXT NOT NULL,
                staff_id TEXT,
                window_id TEXT,
                matter_code TEXT,
                code INTEGER NOT NULL,
                reasons TEXT NOT NULL,               -- JSON array
                comment TEXT,
                rated_at TEXT NOT NULL,
                opened_at TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'verified', 'rectified', 'visited', 'closed', 'appeal')),
                state_since TEXT NOT NULL,
                verdict TEXT CHECK (verdict IN ('valid', 'mistaken', 'malicious')),
                follow_up_result TEXT,
                appeal_from TEXT,
                appealed INTEGER NOT NULL DEFAULT 0,
                UNIQUE (source, rating_id)
            ) STRICT;
            CREATE INDEX bad_case_by_state ON bad_case (state, hall);

            -- Who did what to a case, when: appended, never changed.
            CREATE TABLE case_event (
                id INTEGER PRIMARY KEY,
                case_id INTEGER NOT NULL REFERENCES bad_case (id),
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                from_state TEXT,
                to_state TEXT NOT NULL,
                note TEXT NOT NULL
            ) STRICT;
            CREATE INDEX case_event_by_case ON case_event (case_id, id);
            CREATE TRIGGER case_event_is_immutable BEFORE UPDATE ON case_event
            BEGIN SELECT RAISE(ABORT, 'the case audit log is append-only'); END;
            CREATE TRIGGER case_event_is_kept BEFORE DELETE ON case_event
            BEGIN SELECT RAISE(ABORT, 'the case audit log is append-only'); END;

            -- The sweep looks only at 差评.
            CREATE INDEX record_bad ON record (ingest_id) WHERE kind = 'rating' AND code >= 4;
            -- How far the sweep has looked at the records (ingest_id), so it reads only new ones.
            CREATE TABLE case_sweep (source TEXT PRIMARY KEY NOT NULL, through INTEGER NOT NULL) STRICT;
            """)
    }

    // MARK: - Users and sessions

    static func user(_ row: Row, prefix: String = "") -> AdminUserRecord? {
        guard let role = AdminUserRecord.Role(rawValue: row[prefix + "role"]) else { return nil }
        return AdminUserRecord(name: row[prefix + "name"], role: role, hall: row[prefix + "hall"], passwordHash: row[prefix + "password_hash"])
    }

    public func addUser(_ user: AdminUserRecord, now: Date) async throws(HubError) {
        try await write("adding an admin user") { db in
            if try Row.fetchOne(db, sql: "SELECT 1 FROM admin_user WHERE name = ?", arguments: [user.name]) != nil {
                throw HubError.invalid("user '\(user.name)' exists already: change the password with `pingjia-hub users passwd \(user.name)`")
            }
            let at = WireTime.format(now)
            try db.execute(sql: """
                INSERT INTO admin_user (name, role, hall, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [user.name, user.role.rawValue, user.hall, user.passwordHash, at, at])
        }
    }

    public func setPassword(name: String, passwordHash: String, now: Date) async throws(HubError) {
        try await write("changing a password") { db in
            try db.execute(sql: "UPDATE admin_user SET password_hash = ?, updated_at = ? WHERE name = ?",
                           arguments: [passwordHash, WireTime.format(now), name])
            guard db.changesCount == 1 else { throw HubError.invalid("no user '\(name)': see `pingjia-hub users list`") }
            try db.execute(sql: "DELETE FROM admin_session WHERE user_name = ?", arguments: [name])
        }
    }

    public func removeUser(name: String) async throws(HubError) {
        try await write("removing an admin user") { db in
            try db.execute(sql: "DELETE FROM admin_session WHERE user_name = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM admin_user WHERE name = ?", arguments: [name])
            guard db.changesCount == 1 else { throw HubError.invalid("no user '\(name)': see `pingjia-hub users list`") }
        }
    }

    public func adminUsers() async throws(HubError) -> [AdminUserRecord] {
        try await read("listing admin users") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM admin_user ORDER BY name").compactMap { Self.user($0) }
        }
    }

    public func adminUser(name: String) async throws(HubError) -> AdminUserRecord? {
        try await read("reading an admin user") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM admin_user WHERE name = ?", arguments: [name]).flatMap { Self.user($0) }
        }
    }

    public func createSession(tokenDigest: String, userName: String, csrfToken: String, createdAt: Date, expiresAt: Date) async throws(HubError) {
        try await write("starting a session") { db in
            try db.execute(sql: """
                INSERT INTO admin_session (token_digest, user_name, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
                """, arguments: [tokenDigest, userName, csrfToken, WireTime.format(createdAt), WireTime.format(expiresAt)])
        }
    }

    public func session(tokenDigest: String, now: Date) async throws(HubError) -> AdminSessionRecord? {
        try await read("reading a session") { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT s.csrf_token, s.expires_at, u.* FROM admin_session s JOIN admin_user u ON u.name = s.user_name
                WHERE s.token_digest = ? AND s.expires_at > ?
                """, arguments: [tokenDigest, WireTime.format(now)]),
                let user = Self.user(row), let expires = WireTime.parse(row["expires_at"]) else { return nil }
            return AdminSessionRecord(user: user, csrfToken: row["csrf_token"], expiresAt: expires)
        }
    }

    public func deleteSession(tokenDigest: String) async throws(HubError) {
        try await write("ending a session") { db in
            try db.execute(sql: "DELETE FROM admin_session WHERE token_digest = ?", arguments: [tokenDigest])
        }
    }

    public func deleteSessions(userName: String?, expiredBefore: Date) async throws(HubError) {
        try await write("ending sessions") { db in
            try db.execute(sql: "DELETE FROM admin_session WHERE user_name = ? OR expires_at <= ?",
                           arguments: [userName, WireTime.format(expiredBefore)])
        }
    }

    // MARK: - Cases

    public func openCases() async throws(HubError) -> Int {
        try await write("opening 差评 cases") { db in
            // Writers take turns (BEGIN IMMEDIATE), so NOT EXISTS alone keeps one case per rating,
            // and ingest_id grows in commit order, so records up to the mark never change.
            // A case is open from when the hub received the rating, however late the sweep runs.
            let mark = try Int64.fetchOne(db, sql: "SELECT through FROM case_sweep WHERE source = 'device'") ?? 0
            let head = try Int64.fetchOne(db, sql: "SELECT coalesce(max(ingest_id), 0) FROM record") ?? 0
            try db.execute(sql: """
                INSERT INTO bad_case (source, rating_id, hall, device_id, staff_id, window_id, matter_code, code, reasons,
                    comment, rated_at, opened_at, state, state_since)
                SELECT 'device', r.id, d.hall, r.device_id, r.staff_id, r.window_id, r.matter_code, r.code, r.reasons,
                    r.comment, r.rated_at, r.received_at, 'pending', r.received_at
                FROM record r JOIN device d ON d.device_id = r.device_id
                WHERE r.ingest_id > ? AND r.ingest_id <= ? AND r.kind = 'rating' AND r.code >= 4 AND r.flags = '[]'
                    AND NOT EXISTS (SELECT 1 FROM bad_case c WHERE c.source = 'device' AND c.rating_id = r.id)
                ORDER BY r.ingest_id
                """, arguments: [mark, head])
            var opened = db.changesCount
            try db.execute(sql: """
                INSERT INTO case_sweep (source, through) VALUES ('device', ?)
                ON CONFLICT (source) DO UPDATE SET through = max(through, excluded.through)
                """, arguments: [head])
            opened += try Self.openPhoneCases(db)
            return opened
        }
    }

    static let caseColumns = "*"

    static func caseEntry(_ row: Row) -> CaseEntry? {
        guard let state = CaseState(rawValue: row["state"]) else { return nil }
        let verdictText: String? = row["verdict"]
        let appealText: String? = row["appeal_from"]
        return CaseEntry(
            id: row["id"], source: row["source"], ratingId: row["rating_id"], hall: row["hall"], deviceId: row["device_id"],
            staffId: row["staff_id"], windowId: row["window_id"], matterCode: row["matter_code"], code: row["code"],
            reasons: stringArray(row["reasons"]) ?? [], comment: row["comment"], ratedAt: row["rated_at"],
            openedAt: row["opened_at"], state: state, stateSince: row["state_since"],
            verdict: verdictText.flatMap(CaseVerdict.init(rawValue:)), followUpResult: row["follow_up_result"],
            appealFrom: appealText.flatMap(CaseState.init(rawValue:)), appealed: (row["appealed"] as Int64) != 0)
    }

    public func cases(states: Set<CaseState>?, hall: String?, limit: Int) async throws(HubError) -> [CaseEntry] {
        // The states as one text, ",pending,verified,", so one statement serves any set.
        let stateList = states.map { "," + $0.map(\.rawValue).sorted().joined(separator: ",") + "," }
        return try await read("listing cases") { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM bad_case WHERE (?1 IS NULL OR instr(?1, ',' || state || ',') > 0) AND (?2 IS NULL OR hall = ?2)
                ORDER BY id DESC LIMIT ?3
                """, arguments: [stateList, hall, limit]).compactMap(Self.caseEntry)
        }
    }

    public func caseEntry(id: Int64) async throws(HubError) -> CaseEntry? {
        try await read("reading a case") { db in
            guard var entry = try Row.fetchOne(db, sql: "SELECT * FROM bad_case WHERE id = ?", arguments: [id]).flatMap(Self.caseEntry) else {
                return nil
            }
            guard entry.source == "device" else { return entry }
            for row in try Row.fetchAll(db, sql: """
                SELECT reasons, comment FROM record WHERE device_id = ? AND refers_to = ? AND kind = 'reasons' ORDER BY seq
                """, arguments: [entry.deviceId, entry.ratingId]) {
                for reason in Self.stringArray(row["reasons"]) ?? [] where !entry.reasons.contains(reason) { entry.reasons.append(reason) }
                entry.comment = entry.comment ?? row["comment"]
            }
            return entry
        }
    }

    public func caseEvents(id: Int64) async throws(HubError) -> [CaseEvent] {
        try await read("reading a case's audit trail") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM case_event WHERE case_id = ? ORDER BY id", arguments: [id]).compactMap { row in
                guard let to = CaseState(rawValue: row["to_state"]) else { return nil }
                let from: String? = row["from_state"]
                return CaseEvent(at: row["at"], actor: row["actor"], action: row["action"],
                                 fromState: from.flatMap(CaseState.init(rawValue:)), toState: to, note: row["note"])
            }
        }
    }

    public func transition(id: Int64, change: CaseChange, event: CaseEvent) async throws(HubError) -> Bool {
        try await write("changing a case") { db in
            try db.execute(sql: """
                UPDATE bad_case SET state = ?, state_since = ?, verdict = coalesce(?, verdict),
                    follow_up_result = coalesce(?, follow_up_result),
                    appeal_from = CASE WHEN ? THEN NULL ELSE coalesce(?, appeal_from) END,
                    appealed = coalesce(?, appealed)
                WHERE id = ? AND state = ?
                """, arguments: [change.to.rawValue, change.at, change.verdict?.rawValue, change.followUpResult,
                                 change.clearAppealFrom, change.appealFrom?.rawValue, change.appealed.map { $0 ? 1 : 0 },
                                 id, change.from.rawValue])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: """
                INSERT INTO case_event (case_id, at, actor, action, from_state, to_state, note) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, event.at, event.actor, event.action, event.fromState?.rawValue, event.toState.rawValue, event.note])
            return true
        }
    }

    // MARK: - Reports

    public func report(_ query: ReportQuery) async throws(HubError) -> [ReportCounts] {
        let localDay = Self.localDay("r")
        var items = """
            SELECT \(Self.reportKey(query.by, "r")) AS k, r.kind AS kind, r.code AS code, c.verdict AS verdict, c.follow_up_result AS follow_up
            FROM record r JOIN device d ON d.device_id = r.device_id
            LEFT JOIN bad_case c ON c.source = 'device' AND c.rating_id = r.id
            WHERE r.kind IN ('rating', 'unrated') AND r.flags = '[]'
                AND NOT (r.kind = 'unrated' AND EXISTS (\(Self.answeredByPhone("r"))))
                AND r.rated_at >= :lower AND r.rated_at < :upper
                AND \(localDay) BETWEEN :from AND :to AND (:hall IS NULL OR d.hall = :hall)
            """
        if let phone = Self.phoneReportItems(query.by) { items += "\nUNION ALL\n" + phone }
        let sql = """
            WITH items AS (\(items))
            SELECT k, kind, code, verdict, follow_up IS NOT NULL AS followed_up, count(*) AS n
            FROM items GROUP BY k, kind, code, verdict, followed_up
            """
        guard let bounds = query.textBounds else { throw .invalid("report dates must be YYYY-MM-DD: \(query.from), \(query.to)") }
        let cells = try await read("computing a report") { db in
            try Row.fetchAll(db, sql: sql, arguments: ["from": query.from, "to": query.to, "hall": query.hall,
                                                       "lower": bounds.lower, "upper": bounds.upper]).map { row in
                ReportCell(key: row["k"], kind: RecordKind(rawValue: row["kind"]) ?? .rating, code: row["code"],
                           verdict: (row["verdict"] as String?).flatMap(Verdict.init(rawValue:)),
                           followedUp: row["followed_up"], count: row["n"])
            }
        }
        return ReportFolding.fold(cells)
    }

    /// A session the kiosk recorded 未评价 (timed out) that the citizen rated on the phone through
    /// its QR token: the token's nonce is the session's id, which the 未评价 record carries. The
    /// phone rating counts; the 未评价 does not.
    static func answeredByPhone(_ record: String) -> String {
        "SELECT 1 FROM phone_rating p WHERE p.token_nonce = \(record).id AND p.device_id = \(record).device_id"
    }

    /// Local dates: SQLite reads the stored offset, converts to UTC, then +8 hours is Asia/Shanghai.
    static func localDay(_ table: String) -> String { "date(\(table).rated_at, '+8 hours')" }

    /// The grouping column of a report, of the rows of `table` (an alias).
    static func reportKey(_ by: ReportQuery.Grouping?, _ table: String) -> String {
        switch by {
        case .staff: "coalesce(\(table).staff_id, '')"
        case .window: "coalesce(\(table).window_id, '')"
        case .matter: "coalesce(\(table).matter_code, '')"
        case .day: localDay(table)
        case nil: "''"
        }
    }

    // MARK: - Phone ratings (the phone page's phone_rating table)

    /// Opens cases for phone 差评, from when the phone rating reached the hub.
    static func openPhoneCases(_ db: Database) throws -> Int {
        try db.execute(sql: """
            INSERT INTO bad_case (source, rating_id, hall, device_id, staff_id, window_id, matter_code, code, reasons,
                comment, rated_at, opened_at, state, state_since)
            SELECT 'phone', p.rating_id, p.hall, p.device_id, p.staff_id, p.window_id, p.matter_code, p.code, p.reasons,
                p.comment, p.rated_at, p.rated_at, 'pending', p.rated_at
            FROM phone_rating p
            WHERE p.code >= 4 AND NOT EXISTS (SELECT 1 FROM bad_case c WHERE c.source = 'phone' AND c.rating_id = p.rating_id)
            ORDER BY p.id
            """)
        return db.changesCount
    }

    /// The phone ratings' part of a report's items (all of them ratings; no 未评价 by phone).
    static func phoneReportItems(_ by: ReportQuery.Grouping?) -> String? {
        """
        SELECT \(reportKey(by, "p")) AS k, 'rating' AS kind, p.code AS code, c.verdict AS verdict, c.follow_up_result AS follow_up
        FROM phone_rating p LEFT JOIN bad_case c ON c.source = 'phone' AND c.rating_id = p.rating_id
        WHERE \(localDay("p")) BETWEEN :from AND :to AND (:hall IS NULL OR p.hall = :hall)
        """
    }
}

import Foundation
import GRDB
import PingjiaCore
import PingjiaSyncProtocol

/// Fleet data on SQLite: latest heartbeats, alerts, webhook deliveries. One writer at a time
/// (`BEGIN IMMEDIATE`), so an alert round never races another. (`FleetStorage` comes with `HubStorage`.)
extension SQLiteHubStorage {
    static func fleetMigration(_ db: Database) throws {
        try db.execute(sql: """
            -- The latest heartbeat of each device, replaced by the next one: no history is kept
            -- (the fleet view and the alerts need only the present; the journal has the past).
            CREATE TABLE heartbeat (
                device_id TEXT PRIMARY KEY NOT NULL,
                boot_id TEXT NOT NULL,
                sequence INTEGER NOT NULL,
                received_at TEXT NOT NULL,
                clock_offset_ms INTEGER,
                body TEXT NOT NULL
            ) STRICT;

            -- Conditions (ref '') have at most one open alert per device and kind; a bad rating
            -- (ref = the rating's id) is alerted once ever.
            CREATE TABLE alert (
                id INTEGER PRIMARY KEY,
                device_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                ref TEXT NOT NULL DEFAULT '',
                detail TEXT NOT NULL,
                raised_at TEXT NOT NULL,
                cleared_at TEXT
            ) STRICT;
            CREATE UNIQUE INDEX alert_open ON alert (device_id, kind, ref) WHERE cleared_at IS NULL;
            CREATE UNIQUE INDEX alert_once ON alert (kind, ref) WHERE ref <> '';
            CREATE INDEX alert_by_time ON alert (raised_at);

            -- One row per alert event and webhook; the id is the delivery id receivers dedupe on.
            CREATE TABLE alert_delivery (
                id INTEGER PRIMARY KEY,
                alert_id INTEGER NOT NULL REFERENCES alert (id),
                event TEXT NOT NULL CHECK (event IN ('raised', 'cleared')),
                webhook TEXT NOT NULL,
                body TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                delivered_at TEXT,
                last_error TEXT,
                UNIQUE (alert_id, event, webhook)
            ) STRICT;
            CREATE INDEX alert_delivery_due ON alert_delivery (next_attempt_at) WHERE delivered_at IS NULL;

            -- How far the alert rounds have scanned received records for bad ratings. Starts at
            -- the present, so records received before this version raise no alerts.
            CREATE TABLE alert_cursor (source TEXT PRIMARY KEY NOT NULL, through INTEGER NOT NULL) STRICT;
            INSERT INTO alert_cursor (source, through) SELECT 'record', coalesce(max(ingest_id), 0) FROM record;
            """)
    }

    // MARK: Heartbeats

    public func recordHeartbeat(_ stored: StoredHeartbeat) async throws(HubError) -> HeartbeatOutcome {
        let heartbeat = stored.heartbeat
        return try await write("storing a heartbeat") { db -> HeartbeatOutcome in
            if let row = try Row.fetchOne(db, sql: "SELECT boot_id, sequence FROM heartbeat WHERE device_id = ?",
                                          arguments: [heartbeat.deviceId]),
               (row["boot_id"] as String) == heartbeat.bootId, (row["sequence"] as Int64) >= Int64(clamping: heartbeat.sequence) {
                return .stale
            }
            try db.execute(sql: """
                INSERT INTO heartbeat (device_id, boot_id, sequence, received_at, clock_offset_ms, body)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (device_id) DO UPDATE SET boot_id = excluded.boot_id, sequence = excluded.sequence,
                    received_at = excluded.received_at, clock_offset_ms = excluded.clock_offset_ms, body = excluded.body
                """, arguments: [heartbeat.deviceId, heartbeat.bootId, Int64(clamping: heartbeat.sequence), stored.receivedAt,
                                 stored.clockOffsetMs, stored.bodyJSON])
            return .stored
        }
    }

    public func latestHeartbeat(deviceId: String) async throws(HubError) -> StoredHeartbeat? {
        try await read("reading a heartbeat") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM heartbeat WHERE device_id = ?", arguments: [deviceId]).flatMap(Self.heartbeat)
        }
    }

    static func heartbeat(_ row: Row) -> StoredHeartbeat? {
        StoredHeartbeat.decode(body: row["body"], receivedAt: row["received_at"], clockOffsetMs: row["clock_offset_ms"])
    }

    public func fleet() async throws(HubError) -> [FleetDevice] {
        try await read("reading the fleet") { db in try Self.fleet(db) }
    }

    static func fleet(_ db: Database) throws -> [FleetDevice] {
        var heartbeats: [String: StoredHeartbeat] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT * FROM heartbeat") {
            if let stored = heartbeat(row) { heartbeats[row["device_id"]] = stored }
        }
        var open: [String: [String]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT device_id, kind FROM alert WHERE cleared_at IS NULL ORDER BY kind") {
            open[row["device_id"], default: []].append(row["kind"])
        }
        return try Row.fetchAll(db, sql: "SELECT * FROM device WHERE status <> 'pending' ORDER BY hall, name, slot").map { row in
            let entry = entry(row)
            let id = entry.deviceId ?? ""
            return FleetDevice(device: entry, heartbeat: heartbeats[id], openAlerts: open[id] ?? [])
        }
    }

    // MARK: Alerts

    public func evaluateAlerts(now: Date, badRatingOpenFor: TimeInterval, webhooks: [String],
                               conditions: @Sendable ([FleetDevice]) -> [AlertCondition]) async throws(HubError) -> [AlertEvent] {
        let at = WireTime.format(now)
        let expiry = WireTime.format(now.addingTimeInterval(-badRatingOpenFor))
        return try await write("evaluating alerts") { db -> [AlertEvent] in
            let fleet = try Self.fleet(db)
            let halls = Dictionary(fleet.compactMap { f in f.device.deviceId.map { ($0, f.device.hall) } }, uniquingKeysWith: { a, _ in a })
            let open = try Row.fetchAll(db, sql: "SELECT id, device_id, kind FROM alert WHERE cleared_at IS NULL").map {
                (id: $0["id"] as Int64, deviceId: $0["device_id"] as String, kind: $0["kind"] as String)
            }
            let diff = AlertDiff(open: open, holding: conditions(fleet))
            var events: [AlertEvent] = []
            for condition in diff.raise {
                try db.execute(sql: "INSERT INTO alert (device_id, kind, detail, raised_at) VALUES (?, ?, ?, ?)",
                               arguments: [condition.deviceId, condition.kind, condition.detail, at])
                events.append(AlertEvent(event: .raised, alert: FleetAlert(id: db.lastInsertedRowID, deviceId: condition.deviceId,
                                                                           hall: halls[condition.deviceId], kind: condition.kind, ref: "",
                                                                           detail: condition.detail, raisedAt: at, clearedAt: nil)))
            }
            // Bad ratings received since the last round.
            let cursor = try Int64.fetchOne(db, sql: "SELECT through FROM alert_cursor WHERE source = 'record'") ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT ingest_id, device_id, id, kind, code, flags, staff_id, window_id, rated_at, channel
                FROM record WHERE ingest_id > ? ORDER BY ingest_id LIMIT 5000
                """, arguments: [cursor])
            for row in rows {
                let code: Int = row["code"]
                guard BadRatingFound.isBad(kind: row["kind"], code: code, flags: Self.stringArray(row["flags"]) ?? ["?"]) else { continue }
                let device: String = row["device_id"]
                let ref: String = row["id"]
                let detail = BadRatingFound.describe(code: code, staffId: row["staff_id"], windowId: row["window_id"],
                                                     ratedAt: row["rated_at"], channel: row["channel"])
                try db.execute(sql: "INSERT OR IGNORE INTO alert (device_id, kind, ref, detail, raised_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [device, FleetAlertKind.badRating, ref, detail, at])
                if db.changesCount > 0 {
                    events.append(AlertEvent(event: .raised, alert: FleetAlert(id: db.lastInsertedRowID, deviceId: device, hall: halls[device],
                                                                               kind: FleetAlertKind.badRating, ref: ref, detail: detail,
                                                                               raisedAt: at, clearedAt: nil)))
                }
            }
            if let last = rows.last {
                try db.execute(sql: "UPDATE alert_cursor SET through = ? WHERE source = 'record'", arguments: [last["ingest_id"] as Int64])
            }
            // 差评 given on the phone page: recent ones that have no alert yet (set-based, not by
            // cursor, as on PostgreSQL; see there).
            for row in try Row.fetchAll(db, sql: """
                SELECT rating_id, hall, device_id, staff_id, window_id, code, source, rated_at FROM phone_rating p
                WHERE p.code IN (4, 5) AND p.rated_at > ?
                  AND NOT EXISTS (SELECT 1 FROM alert a WHERE a.kind = ? AND a.ref = p.rating_id AND a.ref <> '')
                ORDER BY p.id LIMIT 5000
                """, arguments: [expiry, FleetAlertKind.badRating]) {
                let device: String = row["device_id"]
                let ref: String = row["rating_id"]
                let detail = BadRatingFound.describe(code: row["code"], staffId: row["staff_id"], windowId: row["window_id"],
                                                     ratedAt: row["rated_at"], channel: "phone (\(row["source"] as String))")
                try db.execute(sql: "INSERT OR IGNORE INTO alert (device_id, kind, ref, detail, raised_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [device, FleetAlertKind.badRating, ref, detail, at])
                if db.changesCount > 0 {
                    events.append(AlertEvent(event: .raised, alert: FleetAlert(id: db.lastInsertedRowID, deviceId: device, hall: row["hall"],
                                                                               kind: FleetAlertKind.badRating, ref: ref, detail: detail,
                                                                               raisedAt: at, clearedAt: nil)))
                }
            }
            // A 差评 alert ends when its case has been verified (someone has looked into it), or
            // after `badRatingOpenFor` whatever became of it.
            let expired = try Int64.fetchAll(db, sql: """
                SELECT id FROM alert a WHERE a.cleared_at IS NULL AND a.kind = ? AND (a.raised_at < ?
                    OR (a.ref <> '' AND EXISTS (SELECT 1 FROM bad_case c WHERE c.rating_id = a.ref AND c.state <> 'pending')))
                """, arguments: [FleetAlertKind.badRating, expiry])
            for id in diff.clear + expired {
                try db.execute(sql: "UPDATE alert SET cleared_at = ? WHERE id = ?", arguments: [at, id])
                if let row = try Row.fetchOne(db, sql: "SELECT * FROM alert WHERE id = ?", arguments: [id]) {
                    events.append(AlertEvent(event: .cleared, alert: Self.alert(row, hall: halls[row["device_id"]])))
                }
            }
            for event in events {
                for webhook in webhooks {
                    try db.execute(sql: """
                        INSERT OR IGNORE INTO alert_delivery (alert_id, event, webhook, body, next_attempt_at) VALUES (?, ?, ?, ?, ?)
                        """, arguments: [event.alert.id, event.event.rawValue, webhook, event.storedJSON, at])
                }
            }
            return events
        }
    }

    static func alert(_ row: Row, hall: String?) -> FleetAlert {
        FleetAlert(id: row["id"], deviceId: row["device_id"], hall: hall, kind: row["kind"], ref: row["ref"], detail: row["detail"],
                   raisedAt: row["raised_at"], clearedAt: row["cleared_at"])
    }

    public func alerts(includeCleared: Bool, limit: Int) async throws(HubError) -> [FleetAlert] {
        try await read("listing alerts") { db in
            try Row.fetchAll(db, sql: """
                SELECT alert.*, device.hall AS hall FROM alert LEFT JOIN device ON device.device_id = alert.device_id
                WHERE ? OR alert.cleared_at IS NULL ORDER BY alert.raised_at DESC, alert.id DESC LIMIT ?
                """, arguments: [includeCleared, limit]).map { Self.alert($0, hall: $0["hall"]) }
        }
    }

    // MARK: Webhook deliveries

    public func claimDeliveries(now: Date, lease: TimeInterval, limit: Int) async throws(HubError) -> [WebhookDelivery] {
        let at = WireTime.format(now)
        let until = WireTime.format(now.addingTimeInterval(lease))
        return try await write("claiming webhook deliveries") { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM alert_delivery WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?
                """, arguments: [at, limit])
            for row in rows {
                try db.execute(sql: "UPDATE alert_delivery SET next_attempt_at = ? WHERE id = ?", arguments: [until, row["id"] as Int64])
            }
            return rows.compactMap(Self.delivery)
        }
    }

    public func finishDelivery(id: Int64, deliveredAt: Date?, retryAt: Date?, error: String?) async throws(HubError) {
        try await write("recording a webhook delivery") { db in
            try db.execute(sql: """
                UPDATE alert_delivery SET attempts = attempts + 1, delivered_at = ?, next_attempt_at = coalesce(?, next_attempt_at),
                    last_error = ? WHERE id = ?
                """, arguments: [deliveredAt.map(WireTime.format), retryAt.map(WireTime.format), error, id])
        }
    }

    public func deliveries() async throws(HubError) -> [WebhookDelivery] {
        try await read("listing webhook deliveries") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alert_delivery ORDER BY id").compactMap(Self.delivery)
        }
    }

    static func delivery(_ row: Row) -> WebhookDelivery? {
        guard let event = AlertEvent.fromStored(row["body"]) else { return nil }
        return WebhookDelivery(id: row["id"], webhook: row["webhook"], event: event, attempts: row["attempts"],
                               deliveredAt: row["delivered_at"], lastError: row["last_error"])
    }
}

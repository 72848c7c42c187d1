import Foundation
import Logging
import PingjiaCore
import PingjiaSyncProtocol
import PostgresNIO

/// Fleet data on PostgreSQL. Several hub instances run the alert round and the webhook sender:
/// a round takes a transaction-level advisory lock, so rounds take turns and each raises or
/// clears an alert once; deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease.
extension PostgresHubStorage {
    static let fleetLock: Int32 = 0x504A_0006

    static let fleetMigration: [String] = [
        // The latest heartbeat of each device, replaced by the next one: no history is kept.
        """
        CREATE TABLE heartbeat (
            device_id text PRIMARY KEY,
            boot_id text NOT NULL,
            sequence bigint NOT NULL,
            received_at text NOT NULL,
            clock_offset_ms bigint,
            body text NOT NULL
        )
        """,
        """
        CREATE TABLE alert (
            id bigserial PRIMARY KEY,
            device_id text NOT NULL,
            kind text NOT NULL,
            ref text NOT NULL DEFAULT '',
            detail text NOT NULL,
            raised_at text NOT NULL,
            cleared_at text
        )
        """,
        // At most one open alert per device and condition; a bad rating is alerted once ever.
        "CREATE UNIQUE INDEX alert_open ON alert (device_id, kind, ref) WHERE cleared_at IS NULL",
        "CREATE UNIQUE INDEX alert_once ON alert (kind, ref) WHERE ref <> ''",
        "CREATE INDEX alert_by_time ON alert (raised_at)",
        """
        CREATE TABLE alert_delivery (
            id bigserial PRIMARY KEY,
            alert_id bigint NOT NULL REFERENCES alert (id),
            event text NOT NULL CHECK (event IN ('raised', 'cleared')),
            webhook text NOT NULL,
            body text NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at text NOT NULL,
            delivered_at text,
            last_error text,
            UNIQUE (alert_id, event, webhook)
        )
        """,
        "CREATE INDEX alert_delivery_due ON alert_delivery (next_attempt_at) WHERE delivered_at IS NULL",
        // Starts at the present: records received before this version raise no alerts.
        "CREATE TABLE alert_cursor (source text PRIMARY KEY, through bigint NOT NULL)",
        "INSERT INTO alert_cursor (source, through) SELECT 'record', coalesce(max(ingest_id), 0) FROM record",
    ]

    // MARK: Heartbeats

    public func recordHeartbeat(_ stored: StoredHeartbeat) async throws(HubError) -> HeartbeatOutcome {
        let heartbeat = stored.heartbeat
        let sequence = Int64(clamping: heartbeat.sequence)
        let body = stored.bodyJSON
        return try await transaction("storing a heartbeat") { connection -> HeartbeatOutcome in
            // The upsert's WHERE leaves a stale heartbeat (same boot, not a later sequence) unwritten.
            let rows = try await connection.query("""
                INSERT INTO heartbeat (device_id, boot_id, sequence, received_at, clock_offset_ms, body)
                VALUES (\(heartbeat.deviceId), \(heartbeat.bootId), \(sequence), \(stored.receivedAt), \(stored.clockOffsetMs), \(body))
                ON CONFLICT (device_id) DO UPDATE SET boot_id = excluded.boot_id, sequence = excluded.sequence,
                    received_at = excluded.received_at, clock_offset_ms = excluded.clock_offset_ms, body = excluded.body
                WHERE heartbeat.boot_id <> excluded.boot_id OR heartbeat.sequence < excluded.sequence
                RETURNING 1
                """, logger: self.logger)
            for try await _ in rows { return .stored }
            return .stale
        }
    }

    public func latestHeartbeat(deviceId: String) async throws(HubError) -> StoredHeartbeat? {
        try await read("reading a heartbeat") { connection in
            for try await (body, at, offset) in try await connection.query(
                "SELECT body, received_at, clock_offset_ms FROM heartbeat WHERE device_id = \(deviceId)", logger: self.logger
            ).decode((String, String, Int64?).self) {
                return StoredHeartbeat.decode(body: body, receivedAt: at, clockOffsetMs: offset)
            }
            return nil
        }
    }

    public func fleet() async throws(HubError) -> [FleetDevice] {
        try await read("reading the fleet") { connection in try await self.fleet(connection) }
    }

    func fleet(_ connection: PostgresConnection) async throws -> [FleetDevice] {
        var heartbeats: [String: StoredHeartbeat] = [:]
        for try await (id, body, at, offset) in try await connection.query(
            "SELECT device_id, body, received_at, clock_offset_ms FROM heartbeat", logger: logger
        ).decode((String, String, String, Int64?).self) {
            heartbeats[id] = StoredHeartbeat.decode(body: body, receivedAt: at, clockOffsetMs: offset)
        }
        var open: [String: [String]] = [:]
        for try await (id, kind) in try await connection.query(
            "SELECT device_id, kind FROM alert WHERE cleared_at IS NULL ORDER BY kind", logger: logger
        ).decode((String, String).self) {
            open[id, default: []].append(kind)
        }
        var fleet: [FleetDevice] = []
        for try await row in try await connection.query(
            "SELECT \(unescaped: Self.deviceColumns) FROM device WHERE status <> 'pending' ORDER BY hall, name, slot", logger: logger) {
            let entry = try Self.entry(row)
            let id = entry.deviceId ?? ""
            fleet.append(FleetDevice(device: entry, heartbeat: heartbeats[id], openAlerts: open[id] ?? []))
        }
        return fleet
    }

    // MARK: Alerts

    static let alertColumns = "alert.id, alert.device_id, device.hall, alert.kind, alert.ref, alert.detail, alert.raised_at, alert.cleared_at"

    static func alert(_ row: PostgresRow) throws -> FleetAlert {
        let (id, deviceId, hall, kind, ref, detail, raised, cleared) =
            try row.decode((Int64, String, String?, String, String, String, String, String?).self)
        return FleetAlert(id: id, deviceId: deviceId, hall: hall, kind: kind, ref: ref, detail: detail, raisedAt: raised, clearedAt: cleared)
    }

    public func evaluateAlerts(now: Date, badRatingOpenFor: TimeInterval, webhooks: [String],
                               conditions: @Sendable ([FleetDevice]) -> [AlertCondition]) async throws(HubError) -> [AlertEvent] {
        let at = WireTime.format(now)
        let expiry = WireTime.format(now.addingTimeInterval(-badRatingOpenFor))
        return try await transaction("evaluating alerts") { connection -> [AlertEvent] in
            // One round at a time across instances; a second waits and then finds nothing to do.
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.fleetLock), 0)", logger: self.logger)
            let fleet = try await self.fleet(connection)
            let halls = Dictionary(fleet.compactMap { f in f.device.deviceId.map { ($0, f.device.hall) } }, uniquingKeysWith: { a, _ in a })
            var open: [(id: Int64, deviceId: String, kind: String)] = []
            for try await (id, device, kind) in try await connection.query(
                "SELECT id, device_id, kind FROM alert WHERE cleared_at IS NULL", logger: self.logger).decode((Int64, String, String).self) {
                open.append((id, device, kind))
            }
            let diff = AlertDiff(open: open, holding: conditions(fleet))
            var events: [AlertEvent] = []
            for condition in diff.raise {
                for try await id in try await connection.query("""
                    INSERT INTO alert (device_id, kind, detail, raised_at) VALUES (\(condition.deviceId), \(condition.kind), \(condition.detail), \(at))
                    RETURNING id
                    """, logger: self.logger).decode(Int64.self) {
                    events.append(AlertEvent(event: .raised, alert: FleetAlert(id: id, deviceId: condition.deviceId, hall: halls[condition.deviceId],
                                                                               kind: condition.kind, ref: "", detail: condition.detail,
                                                                               raisedAt: at, clearedAt: nil)))
                }
            }
            // Bad ratings received since the last round (ingest_id grows in commit order).
            var cursor: Int64 = 0
            for try await value in try await connection.query(
                "SELECT through FROM alert_cursor WHERE source = 'record' FOR UPDATE", logger: self.logger).decode(Int64.self) {
                cursor = value
            }
            var last: Int64?
            var found: [BadRatingFound] = []
            for try await (ingestId, device, id, kind, code, flags, staff, window, ratedAt, channel) in try await connection.query("""
                SELECT ingest_id, device_id, id::text, kind, code, flags, staff_id, window_id, rated_at, channel
                FROM record WHERE ingest_id > \(cursor) ORDER BY ingest_id LIMIT 5000
                """, logger: self.logger).decode((Int64, String, String, String, Int, [String], String?, String?, String, String).self) {
                last = ingestId
                guard BadRatingFound.isBad(kind: kind, code: code, flags: flags) else { continue }
                found.append(BadRatingFound(deviceId: device, ratingId: id, detail: BadRatingFound.describe(
                    code: code, staffId: staff, windowId: window, ratedAt: ratedAt, channel: channel)))
            }
            for bad in found {
                for try await id in try await connection.query("""
                    INSERT INTO alert (device_id, kind, ref, detail, raised_at)
                    VALUES (\(bad.deviceId), \(FleetAlertKind.badRating), \(bad.ratingId), \(bad.detail), \(at))
                    ON CONFLICT DO NOTHING RETURNING id
                    """, logger: self.logger).decode(Int64.self) {
                    events.append(AlertEvent(event: .raised, alert: FleetAlert(id: id, deviceId: bad.deviceId, hall: halls[bad.deviceId],
                                                                               kind: FleetAlertKind.badRating, ref: bad.ratingId,
                                                                               detail: bad.detail, raisedAt: at, clearedAt: nil)))
                }
            }
            if let last {
                try await connection.query("UPDATE alert_cursor SET through = \(last) WHERE source = 'record'", logger: self.logger)
            }
            // 差评 given on the phone page: recent ones that have no alert yet. Set-based rather than
            // by cursor: phone_rating ids come from a sequence outside any lock, so a smaller id can
            // commit after a larger one was seen.
            var phone: [(BadRatingFound, String)] = []
            for try await (ratingId, hall, device, staff, window, code, source, ratedAt) in try await connection.query("""
                SELECT p.rating_id, p.hall, p.device_id, p.staff_id, p.window_id, p.code, p.source, p.rated_at FROM phone_rating p
                WHERE p.code IN (4, 5) AND p.rated_at > \(expiry)::timestamptz
                  AND NOT EXISTS (SELECT 1 FROM alert a WHERE a.kind = \(FleetAlertKind.badRating) AND a.ref = p.rating_id AND a.ref <> '')
                ORDER BY p.id LIMIT 5000
                """, logger: self.logger).decode((String, String, String, String, String?, Int, String, Date).self) {
                phone.append((BadRatingFound(deviceId: device, ratingId: ratingId, detail: BadRatingFound.describe(
                    code: code, staffId: staff, windowId: window, ratedAt: WireTime.format(ratedAt), channel: "phone (\(source))")), hall))
            }
            for (bad, hall) in phone {
                for try await id in try await connection.query("""
                    INSERT INTO alert (device_id, kind, ref, detail, raised_at)
                    VALUES (\(bad.deviceId), \(FleetAlertKind.badRating), \(bad.ratingId), \(bad.detail), \(at))
                    ON CONFLICT DO NOTHING RETURNING id
                    """, logger: self.logger).decode(Int64.self) {
                    events.append(AlertEvent(event: .raised, alert: FleetAlert(id: id, deviceId: bad.deviceId, hall: hall,
                                                                               kind: FleetAlertKind.badRating, ref: bad.ratingId,
                                                                               detail: bad.detail, raisedAt: at, clearedAt: nil)))
                }
            }
            var expired: [Int64] = []
            for try await id in try await connection.query("""
                SELECT id FROM alert a WHERE a.cleared_at IS NULL AND a.kind = \(FleetAlertKind.badRating) AND (a.raised_at < \(expiry)
                    OR (a.ref <> '' AND EXISTS (SELECT 1 FROM bad_case c WHERE c.rating_id = a.ref AND c.state <> 'pending')))
                """, logger: self.logger).decode(Int64.self) {
                expired.append(id)
            }
            for id in diff.clear + expired {
                for try await row in try await connection.query("""
                    UPDATE alert SET cleared_at = \(at) WHERE id = \(id)
                    RETURNING id, device_id, NULL::text, kind, ref, detail, raised_at, cleared_at
                    """, logger: self.logger) {
                    let cleared = try Self.alert(row)
                    events.append(AlertEvent(event: .cleared, alert: FleetAlert(
                        id: cleared.id, deviceId: cleared.deviceId, hall: halls[cleared.deviceId], kind: cleared.kind, ref: cleared.ref,
                        detail: cleared.detail, raisedAt: cleared.raisedAt, clearedAt: cleared.clearedAt)))
                }
            }
            for event in events {
                for webhook in webhooks {
                    try await connection.query("""
                        INSERT INTO alert_delivery (alert_id, event, webhook, body, next_attempt_at)
                        VALUES (\(event.alert.id), \(event.event.rawValue), \(webhook), \(event.storedJSON), \(at))
                        ON CONFLICT DO NOTHING
                        """, logger: self.logger)
                }
            }
            return events
        }
    }

    public func alerts(includeCleared: Bool, limit: Int) async throws(HubError) -> [FleetAlert] {
        try await read("listing alerts") { connection in
            var alerts: [FleetAlert] = []
            for try await row in try await connection.query("""
                SELECT \(unescaped: Self.alertColumns) FROM alert LEFT JOIN device ON device.device_id = alert.device_id
                WHERE \(includeCleared) OR alert.cleared_at IS NULL ORDER BY alert.raised_at DESC, alert.id DESC LIMIT \(Int64(limit))
                """, logger: self.logger) {
                alerts.append(try Self.alert(row))
            }
            return alerts
        }
    }

    // MARK: Webhook deliveries

    static let deliveryColumns = "id, webhook, body, attempts, delivered_at, last_error"

    static func delivery(_ row: PostgresRow) throws -> WebhookDelivery? {
        let (id, webhook, body, attempts, delivered, error) = try row.decode((Int64, String, String, Int, String?, String?).self)
        guard let event = AlertEvent.fromStored(body) else { return nil }
        return WebhookDelivery(id: id, webhook: webhook, event: event, attempts: attempts, deliveredAt: delivered, lastError: error)
    }

    public func claimDeliveries(now: Date, lease: TimeInterval, limit: Int) async throws(HubError) -> [WebhookDelivery] {
        let at = WireTime.format(now)
        let until = WireTime.format(now.addingTimeInterval(lease))
        return try await transaction("claiming webhook deliveries") { connection in
            var claimed: [WebhookDelivery] = []
            for try await row in try await connection.query("""
                UPDATE alert_delivery SET next_attempt_at = \(until)
                WHERE id IN (SELECT id FROM alert_delivery WHERE delivered_at IS NULL AND next_attempt_at <= \(at)
                             ORDER BY id LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
                RETURNING \(unescaped: Self.deliveryColumns)
                """, logger: self.logger) {
                if let delivery = try Self.delivery(row) { claimed.append(delivery) }
            }
            return claimed.sorted { $0.id < $1.id }
        }
    }

    public func finishDelivery(id: Int64, deliveredAt: Date?, retryAt: Date?, error: String?) async throws(HubError) {
        let delivered = deliveredAt.map(WireTime.format)
        let retry = retryAt.map(WireTime.format)
        try await transaction("recording a webhook delivery") { connection in
            try await connection.query("""
                UPDATE alert_delivery SET attempts = attempts + 1, delivered_at = \(delivered),
                    next_attempt_at = coalesce(\(retry), next_attempt_at), last_error = \(error) WHERE id = \(id)
                """, logger: self.logger)
        }
    }

    public func deliveries() async throws(HubError) -> [WebhookDelivery] {
        try await read("listing webhook deliveries") { connection in
            var all: [WebhookDelivery] = []
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.deliveryColumns) FROM alert_delivery ORDER BY id", logger: self.logger) {
                if let delivery = try Self.delivery(row) { all.append(delivery) }
            }
            return all
        }
    }
}

import Foundation
import PostgresNIO
import PingjiaSyncProtocol

extension PostgresHubStorage {
    /// Version 7: configuration documents and each device's configuration version and result.
    static let remoteConfigMigration: (version: Int, name: String, statements: [String]) = (7, "remote config", [
        """
        CREATE TABLE config_document (
            scope text NOT NULL CHECK (scope IN ('hall', 'device')),
            target text NOT NULL,
            body text NOT NULL,
            updated_at text NOT NULL,
            PRIMARY KEY (scope, target)
        )
        """,
        """
        CREATE TABLE device_config (
            device_id text PRIMARY KEY,
            version bigint NOT NULL,
            applied_version bigint,
            applied_at text,
            overrides text NOT NULL DEFAULT '[]',
            refused_version bigint,
            refused_reason text,
            refused_at text
        )
        """,
    ])

    public func setConfigDocument(_ scope: ConfigScope, document: String, now: Date) async throws(HubError) -> [(deviceId: String, version: Int)] {
        let kind = scope.kind
        let target = scope.target
        let when = WireTime.format(now)
        return try await transaction("storing a configuration document") { connection in
            if case .device(let id) = scope {
                var found = false
                // Locks the device row, as ingest does, so the version bump and an enrollment never interleave.
                for try await _ in try await connection.query("SELECT 1 FROM device WHERE device_id = \(id) FOR UPDATE", logger: self.logger) {
                    found = true
                }
                if !found { throw HubError.unknownDevice(id) }
            }
            for try await body in try await connection.query(
                "SELECT body FROM config_document WHERE scope = \(kind) AND target = \(target) FOR UPDATE", logger: self.logger
            ).decode(String.self) where body == document {
                return []
            }
            try await connection.query("""
                INSERT INTO config_document (scope, target, body, updated_at) VALUES (\(kind), \(target), \(document), \(when))
                ON CONFLICT (scope, target) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
                """, logger: self.logger)
            let reached: PostgresQuery = kind == "hall"
                ? "SELECT device_id FROM device WHERE device_id IS NOT NULL AND hall = \(target)"
                : "SELECT device_id FROM device WHERE device_id = \(target)"
            var devices: [String] = []
            for try await id in try await connection.query(reached, logger: self.logger).decode(String.self) { devices.append(id) }
            var versions: [(deviceId: String, version: Int)] = []
            for id in devices.sorted() {
                for try await version in try await connection.query("""
                    INSERT INTO device_config (device_id, version) VALUES (\(id), 1)
                    ON CONFLICT (device_id) DO UPDATE SET version = device_config.version + 1
                    RETURNING version
                    """, logger: self.logger).decode(Int64.self) {
                    versions.append((id, Int(version)))
                }
            }
            return versions
        }
    }

    public func configDocument(_ scope: ConfigScope) async throws(HubError) -> String? {
        let kind = scope.kind
        let target = scope.target
        return try await read("reading a configuration document") { connection in
            for try await body in try await connection.query(
                "SELECT body FROM config_document WHERE scope = \(kind) AND target = \(target)", logger: self.logger
            ).decode(String.self) {
                return body
            }
            return nil
        }
    }

    public func remoteConfig(deviceId: String) async throws(HubError) -> RemoteConfigEntry? {
        try await transaction("reading a device's configuration") { connection in
            var hall: String?
            for try await name in try await connection.query("SELECT hall FROM device WHERE device_id = \(deviceId)", logger: self.logger)
                .decode(String.self) {
                hall = name
            }
            guard let hall else { throw HubError.unknownDevice(deviceId) }
            var hallDocument: String?
            var deviceDocument: String?
            for try await (scope, body) in try await connection.query("""
                SELECT scope, body FROM config_document
                WHERE (scope = 'hall' AND target = \(hall)) OR (scope = 'device' AND target = \(deviceId))
                """, logger: self.logger).decode((String, String).self) {
                if scope == "hall" { hallDocument = body } else { deviceDocument = body }
            }
            guard hallDocument != nil || deviceDocument != nil else { return nil }
            var version = 1
            for try await stored in try await connection.query("""
                INSERT INTO device_config (device_id, version) VALUES (\(deviceId), 1)
                ON CONFLICT (device_id) DO UPDATE SET version = device_config.version
                RETURNING version
                """, logger: self.logger).decode(Int64.self) {
                version = Int(stored)
            }
            return RemoteConfigEntry(deviceId: deviceId, hall: hall, version: version, hallDocument: hallDocument, deviceDocument: deviceDocument)
        }
    }

    public func configVersion(deviceId: String) async throws(HubError) -> Int? {
        try await read("reading a device's configuration version") { connection in
            for try await version in try await connection.query("""
                SELECT coalesce(c.version, CASE WHEN EXISTS (SELECT 1 FROM config_document WHERE (scope = 'hall' AND target = d.hall)
                                                           OR (scope = 'device' AND target = d.device_id)) THEN 1 END)
                FROM device d LEFT JOIN device_config c ON c.device_id = d.device_id WHERE d.device_id = \(deviceId)
                """, logger: self.logger).decode(Int64?.self) {
                return version.map(Int.init)
            }
            return nil
        }
    }

    public func recordConfigResult(deviceId: String, version: Int, refusal: String?, overrides: [String], at: Date) async throws(HubError) {
        let when = WireTime.format(at)
        let number = Int64(version)
        let overridesText = SQLiteHubStorage.json(overrides)
        try await transaction("recording a configuration result") { connection in
            var found = false
            for try await _ in try await connection.query("SELECT 1 FROM device WHERE device_id = \(deviceId)", logger: self.logger) {
                found = true
            }
            if !found { throw HubError.unknownDevice(deviceId) }
            try await connection.query("""
                INSERT INTO device_config (device_id, version) VALUES (\(deviceId), \(number)) ON CONFLICT (device_id) DO NOTHING
                """, logger: self.logger)
            if let refusal {
                try await connection.query("""
                    UPDATE device_config SET refused_version = \(number), refused_reason = \(refusal), refused_at = \(when)
                    WHERE device_id = \(deviceId)
                    """, logger: self.logger)
            } else {
                // An applied version at or past a refused one supersedes the refusal.
                try await connection.query("""
                    UPDATE device_config SET applied_version = \(number), applied_at = \(when), overrides = \(overridesText),
                        refused_version = CASE WHEN refused_version <= \(number) THEN NULL ELSE refused_version END,
                        refused_reason = CASE WHEN refused_version <= \(number) THEN NULL ELSE refused_reason END,
                        refused_at = CASE WHEN refused_version <= \(number) THEN NULL ELSE refused_at END
                    WHERE device_id = \(deviceId)
                    """, logger: self.logger)
            }
        }
    }

    public func recordHeartbeatConfig(deviceId: String, applied: Int?, refused: (version: Int, reason: String)?, at: Date) async throws(HubError) {
        let when = WireTime.format(at)
        let appliedNumber = applied.map(Int64.init)
        let refusedNumber = refused.map { Int64($0.version) }
        let reason = refused?.reason
        try await transaction("recording a heartbeat's configuration") { connection in
            if let v = appliedNumber {
                try await connection.query("""
                    UPDATE device_config SET applied_version = \(v), applied_at = \(when),
                        refused_version = CASE WHEN refused_version <= \(v) THEN NULL ELSE refused_version END,
                        refused_reason = CASE WHEN refused_version <= \(v) THEN NULL ELSE refused_reason END,
                        refused_at = CASE WHEN refused_version <= \(v) THEN NULL ELSE refused_at END
                    WHERE device_id = \(deviceId) AND (applied_version IS NULL OR applied_version < \(v))
                    """, logger: self.logger)
            }
            if let v = refusedNumber, let r = reason {
                try await connection.query("""
                    UPDATE device_config SET refused_version = \(v), refused_reason = \(r), refused_at = \(when)
                    WHERE device_id = \(deviceId) AND (applied_version IS NULL OR applied_version < \(v))
                        AND (refused_version IS NULL OR refused_version <> \(v) OR refused_reason <> \(r))
                    """, logger: self.logger)
            }
        }
    }

    public func remoteConfigStatus() async throws(HubError) -> [RemoteConfigStatus] {
        try await read("reading configuration status") { connection in
            var statuses: [RemoteConfigStatus] = []
            for try await row in try await connection.query("""
                SELECT d.device_id, d.hall, d.name,
                       -- A device enrolled after its hall's document gets version 1 when it first asks.
                       coalesce(c.version, CASE WHEN EXISTS (SELECT 1 FROM config_document WHERE (scope = 'hall' AND target = d.hall)
                                                                OR (scope = 'device' AND target = d.device_id)) THEN 1 END) AS version,
                       c.applied_version, c.applied_at, c.overrides,
                       c.refused_version, c.refused_reason, c.refused_at
                FROM device d LEFT JOIN device_config c ON c.device_id = d.device_id
                WHERE d.device_id IS NOT NULL ORDER BY d.hall, d.device_id
                """, logger: self.logger) {
                let (id, hall, name, version, applied, appliedAt, overrides, refused, reason, refusedAt) =
                    try row.decode((String, String, String, Int64?, Int64?, String?, String?, Int64?, String?, String?).self)
                let keys = overrides.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
                statuses.append(RemoteConfigStatus(deviceId: id, hall: hall, name: name, latestVersion: version.map(Int.init),
                                                   appliedVersion: applied.map(Int.init), appliedAt: appliedAt,
                                                   refusedVersion: refused.map(Int.init), refusedReason: reason,
                                                   refusedAt: refusedAt, overrides: keys))
            }
            return statuses
        }
    }
}

import Foundation
import GRDB
import PingjiaSyncProtocol

extension SQLiteHubStorage {
    /// Migration v7: configuration documents and each device's configuration version and result.
    static func registerRemoteConfigMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7: remote config") { db in
            try db.execute(sql: """
                -- The configuration documents (TOML, validated before they are stored) of halls and devices.
                CREATE TABLE config_document (
                    scope TEXT NOT NULL CHECK (scope IN ('hall', 'device')),
                    target TEXT NOT NULL,
                    body TEXT NOT NULL,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (scope, target)
                ) STRICT;

                -- Per device: the version of its configuration (up by one with every change that
                -- reaches it), the version it applied and the one it refused, with the reason.
                CREATE TABLE device_config (
                    device_id TEXT PRIMARY KEY NOT NULL,
                    version INTEGER NOT NULL,
                    applied_version INTEGER,
                    applied_at TEXT,
                    overrides TEXT NOT NULL DEFAULT '[]',
                    refused_version INTEGER,
                    refused_reason TEXT,
                    refused_at TEXT
                ) STRICT;
                """)
        }
    }

    public func setConfigDocument(_ scope: ConfigScope, document: String, now: Date) async throws(HubError) -> [(deviceId: String, version: Int)] {
        try await write("storing a configuration document") { db in
            if case .device(let id) = scope,
               try Row.fetchOne(db, sql: "SELECT 1 FROM device WHERE device_id = ?", arguments: [id]) == nil {
                throw HubError.unknownDevice(id)
            }
            let stored = try String.fetchOne(db, sql: "SELECT body FROM config_document WHERE scope = ? AND target = ?",
                                             arguments: [scope.kind, scope.target])
            if stored == document { return [] }
            try db.execute(sql: """
                INSERT INTO config_document (scope, target, body, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (scope, target) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at
                """, arguments: [scope.kind, scope.target, document, WireTime.format(now)])
            let reached = scope.kind == "hall" ? "hall = ?" : "device_id = ?"
            try db.execute(sql: """
                INSERT INTO device_config (device_id, version)
                SELECT device_id, 1 FROM device WHERE device_id IS NOT NULL AND \(reached)
                ON CONFLICT (device_id) DO UPDATE SET version = device_config.version + 1
                """, arguments: [scope.target])
            return try Row.fetchAll(db, sql: """
                SELECT c.device_id, c.version FROM device_config c JOIN device d ON d.device_id = c.device_id
                WHERE d.\(reached) ORDER BY c.device_id
                """, arguments: [scope.target]).map { (deviceId: $0["device_id"], version: $0["version"]) }
        }
    }

    public func configDocument(_ scope: ConfigScope) async throws(HubError) -> String? {
        try await read("reading a configuration document") { db in
            try String.fetchOne(db, sql: "SELECT body FROM config_document WHERE scope = ? AND target = ?",
                                arguments: [scope.kind, scope.target])
        }
    }

    public func remoteConfig(deviceId: String) async throws(HubError) -> RemoteConfigEntry? {
        try await write("reading a device's configuration") { db in
            guard let hall = try String.fetchOne(db, sql: "SELECT hall FROM device WHERE device_id = ?", arguments: [deviceId]) else {
                throw HubError.unknownDevice(deviceId)
            }
            let hallDocument = try String.fetchOne(db, sql: "SELECT body FROM config_document WHERE scope = 'hall' AND target = ?",
                                                   arguments: [hall])
            let deviceDocument = try String.fetchOne(db, sql: "SELECT body FROM config_document WHERE scope = 'device' AND target = ?",
                                                     arguments: [deviceId])
            guard hallDocument != nil || deviceDocument != nil else { return nil }
            try db.execute(sql: "INSERT INTO device_config (device_id, version) VALUES (?, 1) ON CONFLICT (device_id) DO NOTHING",
                           arguments: [deviceId])
            let version = try Int.fetchOne(db, sql: "SELECT version FROM device_config WHERE device_id = ?", arguments: [deviceId]) ?? 1
            return RemoteConfigEntry(deviceId: deviceId, hall: hall, version: version, hallDocument: hallDocument, deviceDocument: deviceDocument)
        }
    }

    public func configVersion(deviceId: String) async throws(HubError) -> Int? {
        try await read("reading a device's configuration version") { db in
            try Int.fetchOne(db, sql: """
                SELECT coalesce(c.version, CASE WHEN EXISTS (SELECT 1 FROM config_document WHERE (scope = 'hall' AND target = d.hall)
                                                           OR (scope = 'device' AND target = d.device_id)) THEN 1 END)
                FROM device d LEFT JOIN device_config c ON c.device_id = d.device_id WHERE d.device_id = ?
                """, arguments: [deviceId])
        }
    }

    public func recordConfigResult(deviceId: String, version: Int, refusal: String?, overrides: [String], at: Date) async throws(HubError) {
        let when = WireTime.format(at)
        try await write("recording a configuration result") { db in
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM device WHERE device_id = ?", arguments: [deviceId]) != nil else {
                throw HubError.unknownDevice(deviceId)
            }
            try db.execute(sql: "INSERT INTO device_config (device_id, version) VALUES (?, ?) ON CONFLICT (device_id) DO NOTHING",
                           arguments: [deviceId, version])
            if let refusal {
                try db.execute(sql: """
                    UPDATE device_config SET refused_version = ?, refused_reason = ?, refused_at = ? WHERE device_id = ?
                    """, arguments: [version, refusal, when, deviceId])
            } else {
                // An applied version at or past a refused one supersedes the refusal.
                try db.execute(sql: """
                    UPDATE device_config SET applied_version = ?, applied_at = ?, overrides = ?,
                        refused_version = CASE WHEN refused_version <= ? THEN NULL ELSE refused_version END,
                        refused_reason = CASE WHEN refused_version <= ? THEN NULL ELSE refused_reason END,
                        refused_at = CASE WHEN refused_version <= ? THEN NULL ELSE refused_at END
                    WHERE device_id = ?
                    """, arguments: [version, when, Self.json(overrides), version, version, version, deviceId])
            }
        }
    }

    public func recordHeartbeatConfig(deviceId: String, applied: Int?, refused: (version: Int, reason: String)?, at: Date) async throws(HubError) {
        let when = WireTime.format(at)
        try await write("recording a heartbeat's configuration") { db in
            if let applied {
                try db.execute(sql: """
                    UPDATE device_config SET applied_version = ?, applied_at = ?,
                        refused_version = CASE WHEN refused_version <= ? THEN NULL ELSE refused_version END,
                        refused_reason = CASE WHEN refused_version <= ? THEN NULL ELSE refused_reason END,
                        refused_at = CASE WHEN refused_version <= ? THEN NULL ELSE refused_at END
                    WHERE device_id = ? AND (applied_version IS NULL OR applied_version < ?)
                    """, arguments: [applied, when, applied, applied, applied, deviceId, applied])
            }
            if let refused {
                try db.execute(sql: """
                    UPDATE device_config SET refused_version = ?, refused_reason = ?, refused_at = ?
                    WHERE device_id = ? AND (applied_version IS NULL OR applied_version < ?)
                        AND (refused_version IS NULL OR refused_version <> ? OR refused_reason <> ?)
                    """, arguments: [refused.version, refused.reason, when, deviceId, refused.version, refused.version, refused.reason])
            }
        }
    }

    public func remoteConfigStatus() async throws(HubError) -> [RemoteConfigStatus] {
        try await read("reading configuration status") { db in
            try Row.fetchAll(db, sql: """
                SELECT d.device_id, d.hall, d.name,
                       -- A device enrolled after its hall's document gets version 1 when it first asks.
                       coalesce(c.version, CASE WHEN EXISTS (SELECT 1 FROM config_document WHERE (scope = 'hall' AND target = d.hall)
                                                                OR (scope = 'device' AND target = d.device_id)) THEN 1 END) AS version,
                       c.applied_version, c.applied_at, c.overrides,
                       c.refused_version, c.refused_reason, c.refused_at
                FROM device d LEFT JOIN device_config c ON c.device_id = d.device_id
                WHERE d.device_id IS NOT NULL ORDER BY d.hall, d.device_id
                """).map { row in
                let overrides = (row["overrides"] as String?).flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
                return RemoteConfigStatus(deviceId: row["device_id"], hall: row["hall"], name: row["name"],
                                          latestVersion: row["version"], appliedVersion: row["applied_version"],
                                          appliedAt: row["applied_at"], refusedVersion: row["refused_version"],
                                          refusedReason: row["refused_reason"], refusedAt: row["refused_at"], overrides: overrides)
            }
        }
    }
}

import Foundation
import GRDB
import PingjiaCore
import PingjiaSyncProtocol

// PhoneRatingStorage (through HubStorage).
extension SQLiteHubStorage {
    /// Migration v4: the hub's rosters (per hall, photos inside), each hall's scale, phone ratings.
    static func migratePhoneRatings(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE hub_staff (
                hall TEXT NOT NULL,
                staff_id TEXT NOT NULL,
                name TEXT NOT NULL,
                window_id TEXT NOT NULL,
                window_name TEXT NOT NULL,
                matters TEXT NOT NULL,              -- JSON array of 事项编码
                photo_name TEXT,
                photo_type TEXT,
                photo BLOB,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (hall, staff_id)
            ) STRICT;

            CREATE TABLE hall_setting (
                hall TEXT PRIMARY KEY NOT NULL,
                scale TEXT NOT NULL
            ) STRICT;

            -- One row per rating from the phone page; a token's nonce at most once (一事一评).
            CREATE TABLE phone_rating (
                id INTEGER PRIMARY KEY,
                rating_id TEXT NOT NULL UNIQUE,
                hall TEXT NOT NULL,
                device_id TEXT NOT NULL,
                staff_id TEXT NOT NULL,
                window_id TEXT,
                matter_code TEXT,
                case_no TEXT,
                scale TEXT NOT NULL,
                code INTEGER NOT NULL CHECK (code BETWEEN 1 AND 5),
                reasons TEXT NOT NULL,
                comment TEXT,
                source TEXT NOT NULL CHECK (source IN ('token', 'sticker')),
                token_nonce TEXT UNIQUE,
                client TEXT NOT NULL,
                rated_at TEXT NOT NULL
            ) STRICT;
            CREATE INDEX phone_rating_by_hall ON phone_rating (hall, rated_at);
            CREATE INDEX phone_rating_by_staff ON phone_rating (staff_id, rated_at);
            """)
    }

    static let hubStaffColumns = "staff_id, name, window_id, window_name, matters, photo_name"

    static func hubStaff(_ row: Row) -> HubStaff {
        HubStaff(staff: Staff(id: row["staff_id"], name: row["name"], windowId: row["window_id"], photo: row["photo_name"],
                              matters: StringList.parse(row["matters"])),
                 windowName: row["window_name"])
    }

    public func hubRoster(hall: String) async throws(HubError) -> [HubStaff] {
        try await read("reading the hall's roster") { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.hubStaffColumns) FROM hub_staff WHERE hall = ? ORDER BY staff_id",
                             arguments: [hall]).map(Self.hubStaff)
        }
    }

    public func importHubRoster(hall: String, staff: [HubStaff], photos: [String: StaffPhoto], replace: Bool,
                                now: Date) async throws(HubError) -> RosterImportSummary {
        try await write("importing the hall's roster") { db in
            let existing = Set(try String.fetchAll(db, sql: "SELECT staff_id FROM hub_staff WHERE hall = ?", arguments: [hall]))
            var summary = RosterImportSummary(added: 0, updated: 0, removed: 0)
            for person in staff {
                let photo = photos[person.staff.id]
                try db.execute(sql: """
                    INSERT INTO hub_staff (hall, staff_id, name, window_id, window_name, matters, photo_name, photo_type, photo, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (hall, staff_id) DO UPDATE SET name = excluded.name, window_id = excluded.window_id,
                        window_name = excluded.window_name, matters = excluded.matters, photo_name = excluded.photo_name,
                        photo_type = excluded.photo_type, photo = excluded.photo, updated_at = excluded.updated_at
                    """, arguments: [hall, person.staff.id, person.staff.name, person.staff.windowId, person.windowName,
                                     StringList.json(person.staff.matters), photo == nil ? nil : person.staff.photo,
                                     photo?.contentType, photo.map { Data($0.bytes) }, WireTime.format(now)])
                if existing.contains(person.staff.id) { summary.updated += 1 } else { summary.added += 1 }
            }
            if replace {
                let keep = Set(staff.map(\.staff.id))
                for id in existing where !keep.contains(id) {
                    try db.execute(sql: "DELETE FROM hub_staff WHERE hall = ? AND staff_id = ?", arguments: [hall, id])
                    summary.removed += 1
                }
            }
            return summary
        }
    }

    public func hubStaff(hall: String, staffId: String) async throws(HubError) -> HubStaff? {
        try await read("reading a staff member") { db in
            try Row.fetchOne(db, sql: "SELECT \(Self.hubStaffColumns) FROM hub_staff WHERE hall = ? AND staff_id = ?",
                             arguments: [hall, staffId]).map(Self.hubStaff)
        }
    }

    public func staffPhoto(hall: String, staffId: String) async throws(HubError) -> StaffPhoto? {
        try await read("reading a staff photo") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT photo_type, photo FROM hub_staff WHERE hall = ? AND staff_id = ? AND photo IS NOT NULL",
                                             arguments: [hall, staffId]) else { return nil }
            return StaffPhoto(contentType: row["photo_type"], bytes: [UInt8](row["photo"] as Data))
        }
    }

    public func hallScale(hall: String) async throws(HubError) -> String? {
        try await read("reading the hall's scale") { db in
            try String.fetchOne(db, sql: "SELECT scale FROM hall_setting WHERE hall = ?", arguments: [hall])
        }
    }

    public func setHallScale(hall: String, scale: String) async throws(HubError) {
        try await write("setting the hall's scale") { db in
            try db.execute(sql: "INSERT INTO hall_setting (hall, scale) VALUES (?, ?) ON CONFLICT (hall) DO UPDATE SET scale = excluded.scale",
                           arguments: [hall, scale])
        }
    }

    public func storePhoneRating(_ rating: PhoneRating) async throws(HubError) -> PhoneRatingOutcome {
        // BEGIN IMMEDIATE (`write`) serialises writers, so the check and the insert see the same table.
        try await write("storing a phone rating") { db in
            if let nonce = rating.tokenNonce,
               try Row.fetchOne(db, sql: "SELECT 1 FROM phone_rating WHERE token_nonce = ?", arguments: [nonce]) != nil {
                return .tokenUsed
            }
            try db.execute(sql: """
                INSERT INTO phone_rating (rating_id, hall, device_id, staff_id, window_id, matter_code, case_no, scale, code,
                    reasons, comment, source, token_nonce, client, rated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [rating.ratingId, rating.hall, rating.deviceId, rating.staffId, rating.windowId, rating.matterCode,
                                 rating.caseNo, rating.scale, rating.code, StringList.json(rating.reasons), rating.comment,
                                 rating.source.rawValue, rating.tokenNonce, rating.client, WireTime.format(rating.ratedAt)])
            return .stored
        }
    }

    public func isTokenUsed(nonce: String) async throws(HubError) -> Bool {
        try await read("checking a rating token") { db in
            try Row.fetchOne(db, sql: "SELECT 1 FROM phone_rating WHERE token_nonce = ?", arguments: [nonce]) != nil
        }
    }

    public func phoneRatings(hall: String?) async throws(HubError) -> [PhoneRating] {
        try await read("reading phone ratings") { db in
            try Row.fetchAll(db, sql: """
                SELECT rating_id, hall, device_id, staff_id, window_id, matter_code, case_no, scale, code, reasons, comment, source,
                    token_nonce, client, rated_at
                FROM phone_rating WHERE ? IS NULL OR hall = ? ORDER BY id
                """, arguments: [hall, hall]).map { row in
                PhoneRating(ratingId: row["rating_id"], hall: row["hall"], deviceId: row["device_id"], staffId: row["staff_id"],
                            windowId: row["window_id"], matterCode: row["matter_code"], caseNo: row["case_no"], scale: row["scale"],
                            code: row["code"], reasons: StringList.parse(row["reasons"]), comment: row["comment"],
                            source: PhoneRating.Source(rawValue: row["source"]) ?? .sticker, tokenNonce: row["token_nonce"],
                            client: row["client"], ratedAt: WireTime.parse(row["rated_at"]) ?? .distantPast)
            }
        }
    }
}

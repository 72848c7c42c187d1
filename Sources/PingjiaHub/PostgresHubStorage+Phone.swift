import Foundation
import NIOCore
import PingjiaCore
import PingjiaSyncProtocol
import PostgresNIO

// PhoneRatingStorage (through HubStorage).
extension PostgresHubStorage {
    /// Migration 4: the hub's rosters (per hall, photos inside), each hall's scale, phone ratings.
    static let phoneRatingStatements = [
        """
        CREATE TABLE hub_staff (
            hall text NOT NULL,
            staff_id text NOT NULL,
            name text NOT NULL,
            window_id text NOT NULL,
            window_name text NOT NULL,
            matters text NOT NULL,
            photo_name text,
            photo_type text,
            photo bytea,
            updated_at text NOT NULL,
            PRIMARY KEY (hall, staff_id)
        )
        """,
        "CREATE TABLE hall_setting (hall text PRIMARY KEY, scale text NOT NULL)",
        """
        CREATE TABLE phone_rating (
            id bigserial PRIMARY KEY,
            rating_id text NOT NULL UNIQUE,
            hall text NOT NULL,
            device_id text NOT NULL,
            staff_id text NOT NULL,
            window_id text,
            matter_code text,
            case_no text,
            scale text NOT NULL,
            code integer NOT NULL CHECK (code BETWEEN 1 AND 5),
            reasons text NOT NULL,
            comment text,
            source text NOT NULL CHECK (source IN ('token', 'sticker')),
            token_nonce text UNIQUE,
            client text NOT NULL,
            rated_at timestamptz NOT NULL
        )
        """,
        "CREATE INDEX phone_rating_by_hall ON phone_rating (hall, rated_at)",
        "CREATE INDEX phone_rating_by_staff ON phone_rating (staff_id, rated_at)",
    ]

    static let hubStaffColumns = "staff_id, name, window_id, window_name, matters, photo_name"

    static func hubStaff(_ row: PostgresRow) throws -> HubStaff {
        let (id, name, window, windowName, matters, photo) = try row.decode((String, String, String, String, String, String?).self)
        return HubStaff(staff: Staff(id: id, name: name, windowId: window, photo: photo, matters: StringList.parse(matters)),
                        windowName: windowName)
    }

    public func hubRoster(hall: String) async throws(HubError) -> [HubStaff] {
        try await read("reading the hall's roster") { connection in
            var staff: [HubStaff] = []
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.hubStaffColumns) FROM hub_staff WHERE hall = \(hall) ORDER BY staff_id", logger: self.logger) {
                staff.append(try Self.hubStaff(row))
            }
            return staff
        }
    }

    public func importHubRoster(hall: String, staff: [HubStaff], photos: [String: StaffPhoto], replace: Bool,
                                now: Date) async throws(HubError) -> RosterImportSummary {
        let updatedAt = WireTime.format(now)
        return try await transaction("importing the hall's roster") { connection in
            var existing = Set<String>()
            // FOR UPDATE: two imports of one hall take turns, so the counts are right.
            for try await id in try await connection.query("SELECT staff_id FROM hub_staff WHERE hall = \(hall) FOR UPDATE",
                                                           logger: self.logger).decode(String.self) {
                existing.insert(id)
            }
            var summary = RosterImportSummary(added: 0, updated: 0, removed: 0)
            for person in staff {
                let photo = photos[person.staff.id]
                let bytes = photo.map { ByteBuffer(bytes: $0.bytes) }
                let photoName = photo == nil ? nil : person.staff.photo
                try await connection.query("""
                    INSERT INTO hub_staff (hall, staff_id, name, window_id, window_name, matters, photo_name, photo_type, photo, updated_at)
                    VALUES (\(hall), \(person.staff.id), \(person.staff.name), \(person.staff.windowId), \(person.windowName),
                        \(StringList.json(person.staff.matters)), \(photoName), \(photo?.contentType), \(bytes), \(updatedAt))
                    ON CONFLICT (hall, staff_id) DO UPDATE SET name = excluded.name, window_id = excluded.window_id,
                        window_name = excluded.window_name, matters = excluded.matters, photo_name = excluded.photo_name,
                        photo_type = excluded.photo_type, photo = excluded.photo, updated_at = excluded.updated_at
                    """, logger: self.logger)
                if existing.contains(person.staff.id) { summary.updated += 1 } else { summary.added += 1 }
            }
            if replace {
                let keep = Set(staff.map(\.staff.id))
                for id in existing where !keep.contains(id) {
                    try await connection.query("DELETE FROM hub_staff WHERE hall = \(hall) AND staff_id = \(id)", logger: self.logger)
                    summary.removed += 1
                }
            }
            return summary
        }
    }

    public func hubStaff(hall: String, staffId: String) async throws(HubError) -> HubStaff? {
        try await read("reading a staff member") { connection in
            for try await row in try await connection.query(
                "SELECT \(unescaped: Self.hubStaffColumns) FROM hub_staff WHERE hall = \(hall) AND staff_id = \(staffId)", logger: self.logger) {
                return try Self.hubStaff(row)
            }
            return nil
        }
    }

    public func staffPhoto(hall: String, staffId: String) async throws(HubError) -> StaffPhoto? {
        try await read("reading a staff photo") { connection in
            for try await (type, bytes) in try await connection.query(
                "SELECT photo_type, photo FROM hub_staff WHERE hall = \(hall) AND staff_id = \(staffId) AND photo IS NOT NULL",
                logger: self.logger).decode((String, ByteBuffer).self) {
                return StaffPhoto(contentType: type, bytes: Array(buffer: bytes))
            }
            return nil
        }
    }

    public func hallScale(hall: String) async throws(HubError) -> String? {
        try await read("reading the hall's scale") { connection in
            for try await scale in try await connection.query("SELECT scale FROM hall_setting WHERE hall = \(hall)",
                                                              logger: self.logger).decode(String.self) {
                return scale
            }
            return nil
        }
    }

    public func setHallScale(hall: String, scale: String) async throws(HubError) {
        try await transaction("setting the hall's scale") { connection in
            try await connection.query("""
                INSERT INTO hall_setting (hall, scale) VALUES (\(hall), \(scale))
                ON CONFLICT (hall) DO UPDATE SET scale = excluded.scale
                """, logger: self.logger)
        }
    }

    public func storePhoneRating(_ rating: PhoneRating) async throws(HubError) -> PhoneRatingOutcome {
        try await transaction("storing a phone rating") { connection in
            // The UNIQUE token_nonce decides between concurrent submits on any instance; the loser
            // inserts nothing and is told so.
            let rows = try await connection.query("""
                INSERT INTO phone_rating (rating_id, hall, device_id, staff_id, window_id, matter_code, case_no, scale, code,
                    reasons, comment, source, token_nonce, client, rated_at)
                VALUES (\(rating.ratingId), \(rating.hall), \(rating.deviceId), \(rating.staffId), \(rating.windowId),
                    \(rating.matterCode), \(rating.caseNo), \(rating.scale), \(rating.code), \(StringList.json(rating.reasons)),
                    \(rating.comment), \(rating.source.rawValue), \(rating.tokenNonce), \(rating.client), \(rating.ratedAt))
                ON CONFLICT (token_nonce) DO NOTHING
                RETURNING id
                """, logger: self.logger)
            for try await _ in rows { return PhoneRatingOutcome.stored }
            return .tokenUsed
        }
    }

    public func isTokenUsed(nonce: String) async throws(HubError) -> Bool {
        try await read("checking a rating token") { connection in
            for try await _ in try await connection.query("SELECT 1 FROM phone_rating WHERE token_nonce = \(nonce)", logger: self.logger) {
                return true
            }
            return false
        }
    }

    public func phoneRatings(hall: String?) async throws(HubError) -> [PhoneRating] {
        try await read("reading phone ratings") { connection in
            var ratings: [PhoneRating] = []
            let rows = try await connection.query("""
                SELECT rating_id, hall, device_id, staff_id, window_id, matter_code, case_no, scale, code, reasons, comment, source,
                    token_nonce, client, rated_at
                FROM phone_rating WHERE \(hall)::text IS NULL OR hall = \(hall) ORDER BY id
                """, logger: self.logger)
            for try await row in rows {
                let (id, hall, device, staff, window, matter, caseNo, scale, code, reasons, comment, source, nonce, client, ratedAt) =
                    try row.decode((String, String, String, String, String?, String?, String?, String, Int, String, String?, String,
                                    String?, String, Date).self)
                ratings.append(PhoneRating(ratingId: id, hall: hall, deviceId: device, staffId: staff, windowId: window, matterCode: matter,
                                           caseNo: caseNo, scale: scale, code: code, reasons: StringList.parse(reasons), comment: comment,
                                           source: PhoneRating.Source(rawValue: source) ?? .sticker, tokenNonce: nonce, client: client,
                                           ratedAt: ratedAt))
            }
            return ratings
        }
    }
}

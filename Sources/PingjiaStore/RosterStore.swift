import GRDB
import PingjiaCore

/// The hall's staff and windows, as last imported.
extension KioskStore {
    /// Applies an imported roster in one transaction: all of it or, on any error, none of it.
    ///
    /// - Parameter replace: when true, staff not in `staff` are removed (the file is the whole
    ///   roster); when false, the file adds and updates people and leaves the others alone.
    public func importRoster(staff: [Staff], windows: [ServiceWindow], replace: Bool) throws(StoreError) -> RosterImportSummary {
        try Self.validate(staff: staff, windows: windows)
        return try write("importing the roster") { db in
            var summary = RosterImportSummary()
            for window in windows {
                try db.execute(sql: """
                    INSERT INTO service_window (window_id, name) VALUES (?, ?)
                    ON CONFLICT (window_id) DO UPDATE SET name = excluded.name
                    """, arguments: [window.id, window.name])
            }
            let existing = Set(try String.fetchAll(db, sql: "SELECT staff_id FROM staff"))
            for person in staff {
                try db.execute(sql: """
                    INSERT INTO staff (staff_id, name, window_id, photo, matters) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (staff_id) DO UPDATE SET name = excluded.name, window_id = excluded.window_id,
                        photo = excluded.photo, matters = excluded.matters
                    """, arguments: [person.id, person.name, person.windowId, person.photo, Self.json(person.matters)])
                if existing.contains(person.id) { summary.updated += 1 } else { summary.added += 1 }
            }
            if replace {
                let keep = Set(staff.map(\.id))
                for id in existing.subtracting(keep).sorted() {
                    try db.execute(sql: "DELETE FROM staff WHERE staff_id = ?", arguments: [id])
                    summary.removed += 1
                }
            }
            return summary
        }
    }

    public func staff() throws(StoreError) -> [Staff] {
        try read("reading the roster") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM staff ORDER BY window_id, staff_id").map(Self.staff(from:))
        }
    }

    public func staff(id: String) throws(StoreError) -> Staff? {
        try read("reading the roster") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM staff WHERE staff_id = ?", arguments: [id]).map(Self.staff(from:))
        }
    }

    public func windows() throws(StoreError) -> [ServiceWindow] {
        try read("reading the windows") { db in
            try Row.fetchAll(db, sql: "SELECT window_id, name FROM service_window ORDER BY window_id").map {
                ServiceWindow(id: $0["window_id"], name: $0["name"])
            }
        }
    }

    /// The store's own guard, whatever parsed the roster: ids that ratings and QR links can carry.
    static func validate(staff: [Staff], windows: [ServiceWindow]) throws(StoreError) {
        var seen = Set<String>()
        for person in staff {
            guard Identifier.isValidID(person.id) else { throw .invalidRoster("工号 '\(person.id)' must be \(Identifier.idRule)") }
            guard seen.insert(person.id).inserted else { throw .invalidRoster("工号 '\(person.id)' appears twice") }
            guard Identifier.isValidID(person.windowId) else {
                throw .invalidRoster("window '\(person.windowId)' of \(person.id) must be \(Identifier.idRule)")
            }
            guard !person.name.allSatisfy(\.isWhitespace) else { throw .invalidRoster("the name of \(person.id) is empty") }
        }
        for window in windows where !Identifier.isValidID(window.id) {
            throw .invalidRoster("window '\(window.id)' must be \(Identifier.idRule)")
        }
    }

    private static func staff(from row: Row) -> Staff {
        Staff(id: row["staff_id"], name: row["name"], windowId: row["window_id"], photo: row["photo"],
              matters: stringArray(row["matters"] ?? "[]") ?? [])
    }
}

public struct RosterImportSummary: Sendable, Equatable, Codable {
    public var added = 0
    public var updated = 0
    public var removed = 0
}

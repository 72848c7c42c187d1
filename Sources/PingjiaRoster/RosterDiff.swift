import PingjiaCore

/// What importing a roster would change, shown to the installer before it is applied: who comes,
/// who goes (only when the file is the whole roster), and what changes for whom.
public struct RosterDiff: Sendable, Equatable {
    public struct Change: Sendable, Equatable {
        public let before: Staff
        public let after: Staff
    }

    public let added: [Staff]
    public let changed: [Change]
    public let removed: [Staff]

    public init(current: [Staff], incoming: [Staff], replace: Bool) {
        let now = Dictionary(current.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let next = Set(incoming.map(\.id))
        added = incoming.filter { now[$0.id] == nil }
        changed = incoming.compactMap { person in
            guard let before = now[person.id], before != person else { return nil }
            return Change(before: before, after: person)
        }
        removed = replace ? current.filter { !next.contains($0.id) } : []
    }

    public var isEmpty: Bool { added.isEmpty && changed.isEmpty && removed.isEmpty }

    /// One line per person: `+` added, `-` removed, `~` changed with each field old → new.
    public var lines: [String] {
        var out: [String] = []
        for person in added { out.append("+ \(person.id) \(person.name), window \(person.windowId)") }
        for change in changed {
            let (a, b) = (change.before, change.after)
            var fields: [String] = []
            if a.name != b.name { fields.append("name \(a.name) → \(b.name)") }
            if a.windowId != b.windowId { fields.append("window \(a.windowId) → \(b.windowId)") }
            if a.photo != b.photo { fields.append("photo \(a.photo ?? "-") → \(b.photo ?? "-")") }
            if a.matters != b.matters { fields.append("matters \(a.matters.count) → \(b.matters.count)") }
            out.append("~ \(b.id) \(b.name): " + fields.joined(separator: ", "))
        }
        for person in removed { out.append("- \(person.id) \(person.name), window \(person.windowId)") }
        return out
    }
}

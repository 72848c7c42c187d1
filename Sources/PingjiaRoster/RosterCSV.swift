import CSV
import Foundation
import PingjiaCore

/// Reads a staff roster exported from a hall's HR or queue system as CSV (UTF-8, with or without
/// the BOM that Excel writes). Headers may be English or Chinese:
///
/// | column | also accepted | required |
/// |---|---|---|
/// | `staff_id` | `工号` | yes |
/// | `name` | `姓名` | yes |
/// | `window` | `window_id`, `窗口`, `窗口号` | yes |
/// | `window_name` | `窗口名称` | no (defaults to `窗口 <window>`) |
/// | `photo` | `照片` | no: a file name in `<state-dir>/photos/` |
/// | `matters` | `事项`, `事项编码` | no: 事项编码 separated by `;` |
///
/// Other columns (部门, 性别 …) are ignored and listed in the result. Every problem is collected
/// as `file:line: reason`; a file with any problem yields no roster at all.
public enum RosterCSV {
    enum Column: String, CaseIterable {
        case staffId = "staff_id", name, window, windowName = "window_name", photo, matters

        var aliases: [String] {
            switch self {
            case .staffId: ["staff_id", "staffid", "工号"]
            case .name: ["name", "姓名"]
            case .window: ["window", "window_id", "windowid", "窗口号", "窗口"]
            case .windowName: ["window_name", "windowname", "窗口名称"]
            case .photo: ["photo", "照片"]
            case .matters: ["matters", "事项", "事项编码"]
            }
        }

        var required: Bool { self == .staffId || self == .name || self == .window }
        var label: String { "'\(rawValue)' (\(aliases.last!))" }
    }

    /// Reads and parses `file`, as `pingjia roster import` and `pingjia-hub roster import` do: an
    /// error says what to fix and that nothing was imported.
    public static func load(file: String) throws(RosterLoadError) -> RosterFile {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw RosterLoadError(description: "\(file): cannot read the file (missing, or no permission)")
        }
        switch parse(data: data, file: file) {
        case .success(let parsed): return parsed
        case .failure(let problems):
            throw RosterLoadError(description: problems.description + "\nroster unchanged: fix the lines above and import again")
        }
    }

    public static func parse(data: Data, file: String) -> Result<RosterFile, RosterProblems> {
        var problems: [RosterProblem] = []
        func problem(_ line: Int?, _ message: String) { problems.append(RosterProblem(file: file, line: line, message: message)) }

        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        // Checked per line before parsing, so the error names the line of the bad byte.
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if String(data: Data(line), encoding: .utf8) == nil {
                problem(lineNumber, "not valid UTF-8 (save the file as \"CSV UTF-8\"; GBK exports must be converted first)")
            }
        }
        guard problems.isEmpty else { return .failure(RosterProblems(problems)) }
        let text = String(decoding: bytes, as: UTF8.self)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            problem(nil, "the file is empty: it needs a header line and one line per staff member")
            return .failure(RosterProblems(problems))
        }

        // CSV.swift reads an unclosed quote to the end of the file without an error, turning the
        // rest of the roster into one cell: staff would vanish, or be rejected with a baffling reason.
        if let line = unclosedQuoteLine(in: text) {
            problem(line, "the quote (\") that opens a field here is never closed; close it, or remove it")
            return .failure(RosterProblems(problems))
        }

        let reader: CSVReader
        do {
            reader = try CSVReader(string: text, hasHeaderRow: true, trimFields: true)
        } catch {
            problem(1, "cannot read the header line: \(error)")
            return .failure(RosterProblems(problems))
        }
        let header = (reader.headerRow ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
        var index: [Column: Int] = [:]
        var ignored: [String] = []
        for (position, name) in header.enumerated() {
            guard let column = Column.allCases.first(where: { $0.aliases.contains(name.lowercased()) }) else {
                if !name.isEmpty { ignored.append(name) }
                continue
            }
            if index[column] != nil { problem(1, "column \(column.label) appears twice in the header") }
            index[column] = position
        }
        for column in Column.allCases where column.required && index[column] == nil {
            problem(1, "missing column \(column.label); the header is: \(header.joined(separator: ","))")
        }
        guard problems.isEmpty else { return .failure(RosterProblems(problems)) }

        var staff: [Staff] = []
        var firstLineOf: [String: Int] = [:]
        var windows: [String: (name: String, explicit: Bool, line: Int)] = [:]
        var line = 1 + newlines(in: reader.headerRow ?? [])
        while let row = reader.next() {
            line += 1
            let rowLine = line
            line += newlines(in: row)
            if row.allSatisfy({ $0.isEmpty }) { continue }
            guard row.count == header.count else {
                problem(rowLine, "expected \(header.count) fields like the header, found \(row.count) (a missing or extra comma?)")
                continue
            }
            func value(_ column: Column) -> String? {
                guard let position = index[column] else { return nil }
                let text = row[position].trimmingCharacters(in: .whitespaces)
                return text.isEmpty ? nil : text
            }
            guard let id = value(.staffId) else { problem(rowLine, "工号 (staff_id) is empty"); continue }
            guard Identifier.isValidID(id) else { problem(rowLine, "工号 '\(id)' must be \(Identifier.idRule)"); continue }
            if let first = firstLineOf[id] {
                problem(rowLine, "duplicate 工号 '\(id)' (first on line \(first))")
                continue
            }
            firstLineOf[id] = rowLine
            guard let name = value(.name) else { problem(rowLine, "姓名 (name) of \(id) is empty"); continue }
            guard let windowId = value(.window) else { problem(rowLine, "窗口 (window) of \(id) is empty"); continue }
            guard Identifier.isValidID(windowId) else {
                problem(rowLine, "窗口 '\(windowId)' must be \(Identifier.idRule)")
                continue
            }
            let photo = value(.photo)
            if let photo, photo.contains("/") || photo.hasPrefix(".") {
                problem(rowLine, "照片 '\(photo)' must be a plain file name in the state directory's photos/ folder")
                continue
            }
            let matters = (value(.matters) ?? "")
                .split(whereSeparator: { $0 == ";" || $0 == "；" || $0 == "|" })
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            if let windowName = value(.windowName) {
                if let known = windows[windowId], known.explicit, known.name != windowName {
                    problem(rowLine, "window \(windowId) is named '\(windowName)' here but '\(known.name)' on line \(known.line)")
                    continue
                }
                windows[windowId] = (windowName, true, rowLine)
            } else if windows[windowId] == nil {
                windows[windowId] = ("窗口 \(windowId)", false, rowLine)
            }
            staff.append(Staff(id: id, name: name, windowId: windowId, photo: photo, matters: matters))
        }
        if let error = reader.error {
            problem(line, "the CSV structure is broken here: \(error) (an unclosed quote?)")
        }
        if problems.isEmpty && staff.isEmpty { problem(nil, "no staff rows after the header") }
        guard problems.isEmpty else { return .failure(RosterProblems(problems)) }
        let windowList = windows.map { ServiceWindow(id: $0.key, name: $0.value.name) }.sorted { $0.id < $1.id }
        return .success(RosterFile(staff: staff, windows: windowList, ignoredColumns: ignored, lines: firstLineOf))
    }

    /// The line of a quote that opens a field and is never closed, following CSV.swift's reading
    /// with `trimFields`: a quote opens a field only at its start (after blanks), `""` inside is a
    /// quote, and the field ends only at a quote followed by blanks and a comma, line break or the end.
    static func unclosedQuoteLine(in text: String) -> Int? {
        let blanks = CharacterSet.whitespaces
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar?
        func next() -> Unicode.Scalar? {
            defer { pending = nil }
            return pending ?? scalars.next()
        }
        var line = 1
        var atFieldStart = true
        while let scalar = next() {
            switch scalar {
            case "\n": line += 1; atFieldStart = true
            case "\r", ",": atFieldStart = true
            case "\"" where atFieldStart:
                let openedOn = line
                var closed = false
                while !closed, let inside = next() {
                    if inside == "\n" { line += 1 }
                    guard inside == "\"" else { continue }
                    var after = next()
                    while let blank = after, blanks.contains(blank) { after = next() }
                    switch after {
                    case nil, "\r", "\n", ",": closed = true; pending = after
                    default: break    // `""` is a quote; CSV.swift also stays inside after `"x`
                    }
                }
                if !closed { return openedOn }
                atFieldStart = false
            default:
                if !blanks.contains(scalar) { atFieldStart = false }
            }
        }
        return nil
    }

    /// Lines a record spans beyond its first: quoted fields may hold line breaks. Counts "\n" as
    /// the UTF-8 check does; `isNewline` also matched U+2028 or a lone "\r" in a cell, which are no
    /// line of the file, and every later line number came out one too high.
    private static func newlines(in fields: [String]) -> Int {
        fields.reduce(0) { $0 + $1.unicodeScalars.filter { $0 == "\n" }.count }
    }
}

public struct RosterFile: Sendable, Equatable {
    public let staff: [Staff]
    public let windows: [ServiceWindow]
    public let ignoredColumns: [String]
    /// The line of the file each 工号 is on, so later checks (a photo file) can name it too.
    public let lines: [String: Int]
}

public struct RosterProblem: Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let message: String

    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}

public struct RosterProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [RosterProblem]
    init(_ problems: [RosterProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// A roster file that cannot be read or has bad lines (`RosterCSV.load`).
public struct RosterLoadError: Error, CustomStringConvertible {
    public let description: String
}

import Foundation

/// One problem in a data file, reported as `file:line: message` so a hall's IT person can find it.
public struct TOMLProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// Every problem found in one file, in line order. A file with any problem is rejected whole.
public struct TOMLProblems: Error, Sendable, Equatable, CustomStringConvertible {
    public let problems: [TOMLProblem]

    public init(_ problems: [TOMLProblem]) {
        self.problems = problems.sorted { ($0.line ?? 0) < ($1.line ?? 0) }
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// A parsed TOML file read strictly: typed accessors record wrong types and missing keys, and
/// `finish()` rejects every key no reader asked for, each with its line.
///
/// Readers ask for what they understand; whatever is left is a typo or a setting from another
/// version, and silently ignoring it would leave a hall running with a setting it believes it has.
public final class TOMLDocument {
    public let file: String
    private let rootTable: TOMLTableNode
    private var problems: [TOMLProblem] = []
    private var visited: [(path: [String], table: TOMLTableNode)] = []
    private var asked: [String: Set<String>] = [:]

    public init(text: String, file: String) throws(TOMLProblems) {
        self.file = file
        do {
            rootTable = try TOMLParser.parse(text)
        } catch {
            throw TOMLProblems([TOMLProblem(file: file, line: error.line, message: "not valid TOML: \(error.message)")])
        }
    }

    /// Reads `path` as UTF-8 TOML. A missing or unreadable file is one problem naming the file.
    public convenience init(contentsOf path: String) throws(TOMLProblems) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TOMLProblems([TOMLProblem(file: path, line: nil, message: "cannot read the file (missing, or no permission)")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            let line = TOMLDocument.firstInvalidUTF8Line(in: data)
            throw TOMLProblems([TOMLProblem(file: path, line: line, message: "not UTF-8 text: save the file as UTF-8")])
        }
        try self.init(text: text, file: path)
    }

    public var root: TOMLReader { reader(for: rootTable, path: []) }

    /// Adds a validation problem found by the caller (e.g. a value out of range) at `path`'s line.
    public func problem(at path: [String], _ message: String) {
        problems.append(TOMLProblem(file: file, line: line(of: path), message: message))
    }

    /// The line `path` was written on (array elements by index, e.g. `["levels", "2", "label"]`),
    /// or that of its nearest ancestor written on a line of its own.
    public func line(of path: [String]) -> Int? {
        var position = Position.table(rootTable)
        var line: Int?
        for component in path {
            switch position {
            case .table(let table):
                guard let node = table[component] else { return line }
                line = node.line
                position = Position(node.value)
            case .elements(let nodes):
                guard let index = Int(component), nodes.indices.contains(index) else { return line }
                line = nodes[index].line
                position = Position(nodes[index].value)
            case .tables(let tables):
                guard let index = Int(component), tables.indices.contains(index) else { return line }
                line = tables[index].line
                position = .table(tables[index])
            case .leaf:
                return line
            }
        }
        return line
    }

    /// Where a walk down a key path stands.
    private enum Position {
        case table(TOMLTableNode)
        case elements([TOMLNode])
        case tables([TOMLTableNode])
        case leaf

        init(_ value: TOMLValue) {
            switch value {
            case .table(let table): self = .table(table)
            case .array(let elements): self = .elements(elements)
            case .tableArray(let tables): self = .tables(tables)
            default: self = .leaf
            }
        }
    }

    /// Throws every recorded problem plus one per key that no reader asked for.
    public func finish() throws(TOMLProblems) {
        for (path, table) in visited {
            let known = asked[TOMLDocument.pathKey(path), default: []]
            for key in table.keys where !known.contains(key) {
                let place = path.isEmpty ? "at the top level" : "in [\(TOMLDocument.display(path))]"
                let expected = known.sorted().joined(separator: ", ")
                problem(at: path + [key], "unknown key '\(key)' \(place)" + (expected.isEmpty ? "" : " (known keys: \(expected))"))
            }
        }
        if !problems.isEmpty { throw TOMLProblems(problems) }
    }

    fileprivate func reader(for table: TOMLTableNode, path: [String]) -> TOMLReader {
        if !visited.contains(where: { $0.path == path }) { visited.append((path, table)) }
        return TOMLReader(document: self, table: table, path: path)
    }

    fileprivate func ask(_ key: String, in path: [String]) {
        asked[TOMLDocument.pathKey(path), default: []].insert(key)
    }

    static func display(_ path: [String]) -> String {
        path.map { Int($0) != nil ? "[\($0)]" : $0 }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
    }

    private static func pathKey(_ path: [String]) -> String { path.joined(separator: "\u{1F}") }

    private static func firstInvalidUTF8Line(in data: Data) -> Int {
        var line = 1
        for lineBytes in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if String(data: Data(lineBytes), encoding: .utf8) == nil { return line }
            line += 1
        }
        return line
    }
}

/// A view of one table of a `TOMLDocument`. Accessors return nil when the value is absent or
/// wrong; the reason is recorded in the document, so callers just skip what they can't use.
public struct TOMLReader {
    public let document: TOMLDocument
    let table: TOMLTableNode
    public let path: [String]

    /// The keys of this table in the order they were written.
    public var keys: [String] { table.keys }

    public func has(_ key: String) -> Bool { table[key] != nil }

    public func problem(_ key: String?, _ message: String) {
        document.problem(at: key.map { path + [$0] } ?? path, message)
    }

    public func string(_ key: String, required: Bool = false) -> String? {
        value(key, required: required, typeName: "a string") {
            if case .string(let text) = $0 { text } else { nil }
        }
    }

    public func int(_ key: String, required: Bool = false) -> Int? {
        value(key, required: required, typeName: "an integer") {
            if case .integer(let number) = $0 { number } else { nil }
        }
    }

    public func bool(_ key: String, required: Bool = false) -> Bool? {
        value(key, required: required, typeName: "true or false") {
            if case .boolean(let flag) = $0 { flag } else { nil }
        }
    }

    public func stringArray(_ key: String, required: Bool = false) -> [String]? {
        value(key, required: required, typeName: "an array of strings") { value in
            guard case .array(let elements) = value else { return nil }
            var strings: [String] = []
            for element in elements {
                guard case .string(let text) = element.value else { return nil }
                strings.append(text)
            }
            return strings
        }
    }

    public func table(_ key: String, required: Bool = false) -> TOMLReader? {
        value(key, required: required, typeName: "a table ([\(TOMLDocument.display(path + [key]))])") { value in
            guard case .table(let child) = value else { return nil }
            return document.reader(for: child, path: path + [key])
        }
    }

    /// An array of tables (`[[key]]`, or an array of inline tables), each element a reader of its own.
    public func tables(_ key: String, required: Bool = false) -> [TOMLReader]? {
        value(key, required: required, typeName: "an array of tables ([[\(key)]])") { value in
            let children: [TOMLTableNode]
            switch value {
            case .tableArray(let elements):
                children = elements
            case .array(let elements):
                var inline: [TOMLTableNode] = []
                for element in elements {
                    guard case .table(let child) = element.value else { return nil }
                    inline.append(child)
                }
                children = inline
            default:
                return nil
            }
            return children.enumerated().map { document.reader(for: $1, path: path + [key, String($0)]) }
        }
    }

    private func value<T>(_ key: String, required: Bool, typeName: String, _ extract: (TOMLValue) -> T?) -> T? {
        document.ask(key, in: path)
        guard let node = table[key] else {
            if required { problem(nil, "missing required key '\(key)'" + (path.isEmpty ? "" : " in [\(TOMLDocument.display(path))]")) }
            return nil
        }
        guard let result = extract(node.value) else {
            problem(key, "'\(key)' must be \(typeName), not \(node.value.typeName)")
            return nil
        }
        return result
    }
}

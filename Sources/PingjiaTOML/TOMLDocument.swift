import Foundation
import TOMLKit

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
    private let locator: KeyLocator
    private let rootTable: TOMLTable
    private var problems: [TOMLProblem] = []
    private var visited: [(path: [String], table: TOMLTable)] = []
    private var asked: [String: Set<String>] = [:]

    public init(text: String, file: String) throws(TOMLProblems) {
        self.file = file
        let locator = KeyLocator(text: text)
        if let line = locator.malformedHeaderLine {
            throw TOMLProblems([TOMLProblem(file: file, line: line, message:
                "not valid TOML: a table header needs a name after '[' (letters, digits, '_', '-', or a quoted name)")])
        }
        if let line = TOMLDocument.firstControlCharacterLine(in: text) {
            throw TOMLProblems([TOMLProblem(file: file, line: line, message:
                "not valid TOML: a control character is not allowed (only tab and line breaks are)")])
        }
        do {
            rootTable = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw TOMLProblems([TOMLProblem(file: file, line: error.source.begin.line,
                                            message: "not valid TOML: \(error.description) (column \(error.source.begin.column))")])
        } catch {
            throw TOMLProblems([TOMLProblem(file: file, line: nil, message: "not valid TOML: \(error)")])
        }
        self.locator = locator
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
        problems.append(TOMLProblem(file: file, line: locator.line(of: path), message: message))
    }

    public func line(of path: [String]) -> Int? { locator.line(of: path) }

    /// Throws every recorded problem plus one per key that no reader asked for.
    public func finish() throws(TOMLProblems) {
        for (path, table) in visited {
            let known = asked[TOMLDocument.pathKey(path), default: []]
            for key in table.keys.sorted() where !known.contains(key) {
                let place = path.isEmpty ? "at the top level" : "in [\(TOMLDocument.display(path))]"
                let expected = known.sorted().joined(separator: ", ")
                problem(at: path + [key], "unknown key '\(key)' \(place)" + (expected.isEmpty ? "" : " (known keys: \(expected))"))
            }
        }
        if !problems.isEmpty { throw TOMLProblems(problems) }
    }

    fileprivate func reader(for table: TOMLTable, path: [String]) -> TOMLReader {
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

    /// TOML forbids control characters other than tab, CR and LF everywhere; toml++ is not relied
    /// on to reject them gracefully, and NUL would cut the text short on its way to C.
    private static func firstControlCharacterLine(in text: String) -> Int? {
        var line = 1
        for scalar in text.unicodeScalars {
            if scalar == "\n" { line += 1; continue }
            if scalar == "\t" || scalar == "\r" { continue }
            if scalar.value < 0x20 || scalar.value == 0x7F { return line }
        }
        return nil
    }

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
    let table: TOMLTable
    public let path: [String]

    public var keys: [String] { table.keys }

    public func has(_ key: String) -> Bool { table[key] != nil }

    public func problem(_ key: String?, _ message: String) {
        document.problem(at: key.map { path + [$0] } ?? path, message)
    }

    public func string(_ key: String, required: Bool = false) -> String? {
        value(key, required: required, typeName: "a string") { $0.string }
    }

    public func int(_ key: String, required: Bool = false) -> Int? {
        value(key, required: required, typeName: "an integer") { $0.int }
    }

    public func bool(_ key: String, required: Bool = false) -> Bool? {
        value(key, required: required, typeName: "true or false") { $0.bool }
    }

    public func stringArray(_ key: String, required: Bool = false) -> [String]? {
        value(key, required: required, typeName: "an array of strings") { node in
            guard let array = node.array else { return nil }
            var strings: [String] = []
            for element in array {
                guard let string = element.string else { return nil }
                strings.append(string)
            }
            return strings
        }
    }

    public func table(_ key: String, required: Bool = false) -> TOMLReader? {
        value(key, required: required, typeName: "a table ([\(TOMLDocument.display(path + [key]))])") { node in
            node.table.map { document.reader(for: $0, path: path + [key]) }
        }
    }

    /// An array of tables (`[[key]]`), each element a reader of its own.
    public func tables(_ key: String, required: Bool = false) -> [TOMLReader]? {
        value(key, required: required, typeName: "an array of tables ([[\(key)]])") { node in
            guard let array = node.array else { return nil }
            var readers: [TOMLReader] = []
            for (index, element) in array.enumerated() {
                guard let table = element.table else { return nil }
                readers.append(document.reader(for: table, path: path + [key, String(index)]))
            }
            return readers
        }
    }

    private func value<T>(_ key: String, required: Bool, typeName: String,
                          _ extract: (TOMLValueConvertible) -> T?) -> T? {
        document.ask(key, in: path)
        guard let node = table[key] else {
            if required { problem(nil, "missing required key '\(key)'" + (path.isEmpty ? "" : " in [\(TOMLDocument.display(path))]")) }
            return nil
        }
        guard let result = extract(node) else {
            problem(key, "'\(key)' must be \(typeName), not \(node.type)")
            return nil
        }
        return result
    }
}

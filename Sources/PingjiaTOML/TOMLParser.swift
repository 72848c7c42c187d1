/// A TOML 1.0 parser that records the line of every key and table, for `file:line` problems.
///
/// Written here rather than taken from a package: the one TOML package available (TOMLKit over
/// toml++ 3) aborts on malformed input such as `[=` or `h=[}` (debug asserts, undefined behaviour
/// in release), leaks every value it returns, and gives no positions for keys. Hall-edited
/// files and device profiles are exactly where malformed input arrives, so the parser must turn
/// any byte sequence into a value or one clear error.
///
/// Supported: everything in TOML 1.0 except dates and times, which no Pingjia file uses; they are
/// refused with a clear message instead of being misread.
struct TOMLParser {
    struct Failure: Error {
        let line: Int
        let message: String
    }

    /// Nesting of arrays and inline tables; deeper input is refused rather than risking the stack.
    static let maxDepth = 64

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var line = 1
    private var depth = 0

    static func parse(_ text: String) throws(Failure) -> TOMLTableNode {
        var parser = TOMLParser(scalars: Array(text.unicodeScalars))
        return try parser.document()
    }

    private init(scalars: [Unicode.Scalar]) {
        var scalars = scalars
        if scalars.first == "\u{FEFF}" { scalars.removeFirst() }
        self.scalars = scalars
    }

    // MARK: - Document structure

    private mutating func document() throws(Failure) -> TOMLTableNode {
        let root = TOMLTableNode(origin: .root, line: 1)
        var current = root
        while true {
            try skipBlankLinesAndComments()
            guard let scalar = peek() else { return root }
            if scalar == "[" {
                current = try tableHeader(root: root)
            } else {
                try keyValue(into: current)
            }
            try endOfLine()
        }
    }

    /// `[a.b]` or `[[a.b]]`: returns the table that the following key/value lines fill.
    private mutating func tableHeader(root: TOMLTableNode) throws(Failure) -> TOMLTableNode {
        let headerLine = line
        advance()
        let isArray = peek() == "["
        if isArray { advance() }
        skipSpaces()
        let keys = try key()
        skipSpaces()
        try expect("]", "a table header must end with ']'")
        if isArray { try expect("]", "an array-of-tables header must end with ']]'") }

        var table = root
        for component in keys.dropLast() {
            table = try descend(table, into: component, creating: .implicit, line: headerLine, forHeader: true)
        }
        let last = keys[keys.count - 1]
        let shown = keys.joined(separator: ".")
        if isArray {
            let element = TOMLTableNode(origin: .header, line: headerLine)
            if let existing = table.values[last] {
                guard case .tableArray(let elements) = existing.value else {
                    throw fail("[[\(shown)]] names a key that is already a value or table (line \(existing.line))", at: headerLine)
                }
                table.values[last] = TOMLNode(value: .tableArray(elements + [element]), line: existing.line)
            } else {
                table.insert(last, TOMLNode(value: .tableArray([element]), line: headerLine))
            }
            return element
        }
        if let existing = table.values[last] {
            guard case .table(let defined) = existing.value, defined.origin == .implicit else {
                throw fail("[\(shown)] is defined twice (first on line \(existing.line))", at: headerLine)
            }
            defined.origin = .header
            defined.line = headerLine
            table.values[last] = TOMLNode(value: .table(defined), line: headerLine)
            return defined
        }
        let created = TOMLTableNode(origin: .header, line: headerLine)
        table.insert(last, TOMLNode(value: .table(created), line: headerLine))
        return created
    }

    /// Follows one key component of a header or a dotted key, creating the table if it is absent.
    private func descend(_ table: TOMLTableNode, into key: String, creating origin: TOMLTableNode.Origin,
                         line: Int, forHeader: Bool) throws(Failure) -> TOMLTableNode {
        guard let existing = table.values[key] else {
            let created = TOMLTableNode(origin: origin, line: line)
            table.insert(key, TOMLNode(value: .table(created), line: line))
            return created
        }
        switch existing.value {
        case .table(let child) where child.origin != .inline:
            // A dotted key may extend only tables made by dotted keys (TOML 1.0).
            if !forHeader && child.origin != .dotted && child.origin != .implicit {
                throw fail("'\(key)' is a table defined on line \(existing.line); extend it under its own header", at: line)
            }
            return child
        case .tableArray(let elements) where forHeader:
            return elements[elements.count - 1]
        default:
            throw fail("'\(key)' is already a value (line \(existing.line)), so it cannot also be a table", at: line)
        }
    }

    private mutating func keyValue(into table: TOMLTableNode) throws(Failure) {
        let keyLine = line
        let keys = try key()
        skipSpaces()
        try expect("=", "expected '=' after the key '\(keys.joined(separator: "."))'")
        skipSpaces()
        let value = try self.value()
        var target = table
        for component in keys.dropLast() {
            target = try descend(target, into: component, creating: .dotted, line: keyLine, forHeader: false)
        }
        let last = keys[keys.count - 1]
        if let existing = target.values[last] {
            throw fail("'\(last)' is defined twice (first on line \(existing.line))", at: keyLine)
        }
        target.insert(last, TOMLNode(value: value, line: keyLine))
    }

    /// A key: bare, quoted or dotted (`a."b c".d`).
    private mutating func key() throws(Failure) -> [String] {
        var components: [String] = []
        while true {
            skipSpaces()
            guard let scalar = peek() else { throw fail("expected a key, found the end of the file") }
            switch scalar {
            case "\"":
                guard !lookingAt("\"\"\"") else { throw fail("a key cannot be a multi-line string") }
                components.append(try string(quote: "\""))
            case "'":
                guard !lookingAt("'''") else { throw fail("a key cannot be a multi-line string") }
                components.append(try string(quote: "'"))
            default:
                var bare = ""
                while let next = peek(), TOMLParser.isBareKey(next) {
                    bare.unicodeScalars.append(next)
                    advance()
                }
                guard !bare.isEmpty else {
                    throw fail("expected a key (letters, digits, '_', '-', or a quoted name), found \(TOMLParser.show(scalar))")
                }
                components.append(bare)
            }
            skipSpaces()
            guard peek() == "." else { return components }
            advance()
        }
    }

    // MARK: - Values

    private mutating func value() throws(Failure) -> TOMLValue {
        guard let scalar = peek() else { throw fail("expected a value, found the end of the file") }
        switch scalar {
        case "\"":
            return .string(lookingAt("\"\"\"") ? try multilineString(quote: "\"") : try string(quote: "\""))
        case "'":
            return .string(lookingAt("'''") ? try multilineString(quote: "'") : try string(quote: "'"))
        case "[":
            return try array()
        case "{":
            return try inlineTable()
        case "t", "f":
            if lookingAt("true") { index += 4; return .boolean(true) }
            if lookingAt("false") { index += 5; return .boolean(false) }
            throw fail("expected a value; did you mean true or false, or a \"quoted string\"?")
        default:
            return try number()
        }
    }

    private mutating func array() throws(Failure) -> TOMLValue {
        try enterNesting()
        defer { depth -= 1 }
        advance()
        var elements: [TOMLNode] = []
        while true {
            try skipBlankLinesAndComments()
            if peek() == "]" { advance(); return .array(elements) }
            let elementLine = line
            elements.append(TOMLNode(value: try value(), line: elementLine))
            try skipBlankLinesAndComments()
            switch peek() {
            case ",": advance()
            case "]": advance(); return .array(elements)
            case nil: throw fail("the array is never closed with ']'")
            case let other?: throw fail("expected ',' or ']' in the array, found \(TOMLParser.show(other))")
            }
        }
    }

    private mutating func inlineTable() throws(Failure) -> TOMLValue {
        try enterNesting()
        defer { depth -= 1 }
        advance()
        let table = TOMLTableNode(origin: .inline, line: line)
        skipSpaces()
        if peek() == "}" { advance(); return .table(table) }
        while true {
            skipSpaces()
            if peek() == "\n" || peek() == "\r" { throw fail("an inline table { … } must be on one line") }
            try keyValue(into: table)
            skipSpaces()
            switch peek() {
            case ",": advance()
            case "}": advance(); return .table(table)
            case "\n", "\r": throw fail("an inline table { … } must be on one line")
            case nil: throw fail("the inline table is never closed with '}'")
            case let other?: throw fail("expected ',' or '}' in the inline table, found \(TOMLParser.show(other))")
            }
        }
    }

    private mutating func enterNesting() throws(Failure) {
        depth += 1
        if depth > TOMLParser.maxDepth { throw fail("arrays and inline tables are nested more than \(TOMLParser.maxDepth) deep") }
    }

    /// Integers (decimal, 0x, 0o, 0b, with `_` between digits) and floats (incl. inf and nan).
    private mutating func number() throws(Failure) -> TOMLValue {
        var token = ""
        while let scalar = peek(), TOMLParser.isNumberPart(scalar) {
            token.unicodeScalars.append(scalar)
            advance()
        }
        guard !token.isEmpty else {
            let found = peek().map(TOMLParser.show) ?? "the end of the line"
            throw fail("expected a value (a \"string\", a number, true/false, [array] or {table}), found \(found)")
        }
        if peek() == ":" || (token.count >= 5 && token.dropFirst(4).first == "-" && token.prefix(4).allSatisfy(\.isNumber)) {
            throw fail("dates and times are not supported in Pingjia's files: write them as a \"string\"")
        }
        let unsigned = token.hasPrefix("+") || token.hasPrefix("-") ? String(token.dropFirst()) : token
        let negative = token.hasPrefix("-")
        if ["inf", "nan"].contains(unsigned) {
            return .float(unsigned == "nan" ? .nan : (negative ? -.infinity : .infinity))
        }
        if let first = unsigned.unicodeScalars.first, first.properties.isAlphabetic {
            throw fail("'\(token)' is not a value: write text in quotes, \"\(token)\"")
        }
        for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where unsigned.hasPrefix(prefix) {
            guard token == unsigned else { throw fail("'\(token)': a hexadecimal, octal or binary number takes no sign") }
            let digits = try TOMLParser.withoutUnderscores(String(unsigned.dropFirst(2)), token: token, line: line)
            // Int(_:radix:) would accept a sign inside ("0x-1"); only digits of the radix are allowed.
            guard digits.unicodeScalars.allSatisfy({ Int(String($0), radix: radix) != nil }),
                  let value = Int(digits, radix: radix) else {
                throw fail("'\(token)' is not a valid number (or is too large)")
            }
            return .integer(value)
        }
        let plain = try TOMLParser.withoutUnderscores(unsigned, token: token, line: line)
        let isFloat = plain.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        if plain.count > 1 && plain.hasPrefix("0") && !(isFloat && (plain.hasPrefix("0.") || plain.hasPrefix("0e") || plain.hasPrefix("0E"))) {
            throw fail("'\(token)': leading zeros are not allowed")
        }
        if isFloat {
            guard TOMLParser.isValidFloat(plain), let value = Double((negative ? "-" : "") + plain) else {
                throw fail("'\(token)' is not a valid number")
            }
            return .float(value)
        }
        guard plain.allSatisfy(\.isASCII), plain.allSatisfy(\.isNumber), let value = Int((negative ? "-" : "") + plain) else {
            throw fail("'\(token)' is not a valid number (or is too large)")
        }
        return .integer(value)
    }

    private static func withoutUnderscores(_ digits: String, token: String, line: Int) throws(Failure) -> String {
        guard !digits.isEmpty, digits.first != "_", digits.last != "_", !digits.contains("__") else {
            throw Failure(line: line, message: "'\(token)' is not a valid number ('_' only between digits)")
        }
        return digits.replacingAll("_", with: "")
    }

    /// digits [. digits] [e [sign] digits], the decimal part and exponent each non-empty.
    private static func isValidFloat(_ text: String) -> Bool {
        let lower = text.lowercased()
        let parts = lower.split(separator: "e", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        let mantissa = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard mantissa.count <= 2, mantissa.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return false }
        if parts.count == 2 {
            var exponent = parts[1]
            if exponent.first == "+" || exponent.first == "-" { exponent = exponent.dropFirst() }
            guard !exponent.isEmpty, exponent.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        }
        return true
    }

    // MARK: - Strings

    /// `"…"` (with escapes) or `'…'` (literal), on one line.
    private mutating func string(quote: Unicode.Scalar) throws(Failure) -> String {
        let escapes = quote == "\""
        let shown = escapes ? "'\"'" : "\"'\""
        advance()
        var result = ""
        while true {
            guard let scalar = peek() else { throw fail("the string is never closed with \(shown)") }
            advance()
            switch scalar {
            case quote:
                return result
            case "\\" where escapes:
                try escape(into: &result)
            case "\n", "\r":
                let multiline = String(repeating: String(quote), count: 3)
                throw fail("the string is not closed on its line: close it with \(shown), or use \(multiline) for several lines")
            default:
                try checkAllowed(scalar)
                result.unicodeScalars.append(scalar)
            }
        }
    }

    /// Three quotes: `"` with escapes and line-ending backslashes, `'` literal.
    private mutating func multilineString(quote: Unicode.Scalar) throws(Failure) -> String {
        let escapes = quote == "\""
        let delimiter = String(repeating: String(quote), count: 3)
        index += 3
        skipFirstNewline()
        var result = ""
        while true {
            guard let scalar = peek() else { throw fail("the multi-line string is never closed with \(delimiter)") }
            if lookingAt(delimiter) {
                index += 3
                // Up to two quotes right before the closing delimiter belong to the content.
                var extra = 0
                while peek() == quote && extra < 2 { result.unicodeScalars.append(quote); advance(); extra += 1 }
                return result
            }
            advance()
            switch scalar {
            case "\\" where escapes:
                if let next = peek(), next == " " || next == "\t" || next == "\n" || next == "\r" {
                    // A line-ending backslash trims the line break and the blanks that follow.
                    var sawNewline = false
                    while let blank = peek(), blank == " " || blank == "\t" || blank == "\n" || blank == "\r" {
                        if blank == "\n" { sawNewline = true }
                        try newlineOrAdvance()
                    }
                    guard sawNewline else { throw fail("a '\\' followed by blanks must end the line") }
                } else {
                    try escape(into: &result)
                }
            case "\n":
                line += 1
                result.unicodeScalars.append("\n")
            case "\r":
                guard peek() == "\n" else { throw fail("a carriage return must be followed by a line feed") }
            default:
                try checkAllowed(scalar)
                result.unicodeScalars.append(scalar)
            }
        }
    }

    private mutating func skipFirstNewline() {
        if peek() == "\n" { advance(); line += 1 } else if lookingAt("\r\n") { index += 2; line += 1 }
    }

    private mutating func escape(into result: inout String) throws(Failure) {
        guard let scalar = peek() else { throw fail("the string ends in the middle of an escape") }
        advance()
        switch scalar {
        case "b": result.unicodeScalars.append("\u{08}")
        case "t": result.unicodeScalars.append("\t")
        case "n": result.unicodeScalars.append("\n")
        case "f": result.unicodeScalars.append("\u{0C}")
        case "r": result.unicodeScalars.append("\r")
        case "\"": result.unicodeScalars.append("\"")
        case "\\": result.unicodeScalars.append("\\")
        case "u", "U":
            let count = scalar == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<count {
                guard let digit = peek(), digit.properties.isASCIIHexDigit else {
                    throw fail("\\\(scalar) needs \(count) hexadecimal digits")
                }
                hex.unicodeScalars.append(digit)
                advance()
            }
            guard let value = UInt32(hex, radix: 16), let decoded = Unicode.Scalar(value) else {
                throw fail("\\\(scalar)\(hex) is not a Unicode scalar value")
            }
            result.unicodeScalars.append(decoded)
        default:
            throw fail("unknown escape \\\(TOMLParser.show(scalar)) (use \\\\ for a backslash)")
        }
    }

    /// Control characters other than tab are not allowed inside strings and comments.
    private func checkAllowed(_ scalar: Unicode.Scalar) throws(Failure) {
        if (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F {
            throw fail("the control character \(TOMLParser.show(scalar)) is not allowed (only tab and line breaks are)")
        }
    }

    // MARK: - Whitespace, comments, line ends

    private mutating func skipSpaces() {
        while let scalar = peek(), scalar == " " || scalar == "\t" { advance() }
    }

    private mutating func skipComment() throws(Failure) {
        guard peek() == "#" else { return }
        while let scalar = peek(), scalar != "\n" {
            if scalar == "\r" && lookingAt("\r\n") { return }
            try checkAllowed(scalar)
            advance()
        }
    }

    /// After a key/value or header: blanks, an optional comment, then a line break or the end.
    private mutating func endOfLine() throws(Failure) {
        skipSpaces()
        try skipComment()
        guard let scalar = peek() else { return }
        guard scalar == "\n" || scalar == "\r" else {
            throw fail("expected the end of the line after the value, found \(TOMLParser.show(scalar)) (one key = value per line)")
        }
        try newlineOrAdvance()
    }

    private mutating func skipBlankLinesAndComments() throws(Failure) {
        while true {
            skipSpaces()
            try skipComment()
            guard let scalar = peek(), scalar == "\n" || scalar == "\r" else { return }
            try newlineOrAdvance()
        }
    }

    /// Consumes one blank or line break, counting lines; a lone carriage return is an error.
    private mutating func newlineOrAdvance() throws(Failure) {
        guard let scalar = peek() else { return }
        if scalar == "\r" {
            guard lookingAt("\r\n") else { throw fail("a carriage return must be followed by a line feed") }
            index += 2
            line += 1
        } else {
            advance()
            if scalar == "\n" { line += 1 }
        }
    }

    // MARK: - Scanning

    private func peek() -> Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func advance() { index += 1 }

    private func lookingAt(_ text: String) -> Bool {
        var position = index
        for scalar in text.unicodeScalars {
            guard position < scalars.count, scalars[position] == scalar else { return false }
            position += 1
        }
        return true
    }

    private mutating func expect(_ scalar: Unicode.Scalar, _ message: String) throws(Failure) {
        guard peek() == scalar else {
            throw fail(message + (peek().map { ", found \(TOMLParser.show($0))" } ?? ", found the end of the file"))
        }
        advance()
    }

    private func fail(_ message: String, at failureLine: Int? = nil) -> Failure {
        Failure(line: failureLine ?? line, message: message)
    }

    private static func isBareKey(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-": true
        default: false
        }
    }

    private static func isNumberPart(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-", "+", ".": true
        default: false
        }
    }

    /// A character as a person can read it in an error, control characters as U+XXXX.
    static func show(_ scalar: Unicode.Scalar) -> String {
        if scalar.value < 0x20 || scalar.value == 0x7F {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: 4 - hex.count) + hex
        }
        return "'\(scalar)'"
    }
}

/// A value with the line its key was written on.
struct TOMLNode {
    let value: TOMLValue
    let line: Int
}

enum TOMLValue {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([TOMLNode])
    case table(TOMLTableNode)
    /// `[[name]]` elements: unlike an inline array, later headers may append to it.
    case tableArray([TOMLTableNode])

    var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .boolean: "bool"
        case .array, .tableArray: "array"
        case .table: "table"
        }
    }
}

/// A table, its keys in the order they were written.
final class TOMLTableNode {
    enum Origin {
        case root
        /// `[name]`
        case header
        /// Created on the way to a deeper header, e.g. `a` by `[a.b]`; `[a]` may still follow.
        case implicit
        /// Created by a dotted key `a.b = 1`.
        case dotted
        /// `{ … }`: complete as written.
        case inline
    }

    var origin: Origin
    var line: Int
    private(set) var keys: [String] = []
    fileprivate(set) var values: [String: TOMLNode] = [:]

    init(origin: Origin, line: Int) {
        self.origin = origin
        self.line = line
    }

    fileprivate func insert(_ key: String, _ node: TOMLNode) {
        if values[key] == nil { keys.append(key) }
        values[key] = node
    }

    subscript(key: String) -> TOMLNode? { values[key] }
}

private extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}

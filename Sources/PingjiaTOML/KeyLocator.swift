/// Finds the line on which each key of a TOML document was written.
///
/// The TOML parser (toml++ through TOMLKit) does not expose source positions of nodes, yet every
/// problem in a hall's data file must be reported as `file:line`. This scanner follows table
/// headers, arrays of tables and dotted keys closely enough to map a key path such as
/// `levels.2.label` to its line; multi-line strings and arrays are skipped, not interpreted.
struct KeyLocator {
    private var lines: [String: Int] = [:]
    /// The first table header whose name starts with a character no key can start with, e.g.
    /// `[=` or `[é]`. toml++ 3 asserts (debug) or assumes (release) that this cannot happen, so
    /// such a file must be refused before it reaches the parser.
    private(set) var malformedHeaderLine: Int?

    init(text: String) {
        var currentPath: [String] = []
        var arrayCounts: [String: Int] = [:]
        var openMultiline: String?          // the closing delimiter of a multi-line string
        var bracketDepth = 0                 // open `[`/`{` of a value that continues on later lines

        // A BOM is no key; toml++ skips it, and so must the line scan.
        var body = Substring(text)
        if body.unicodeScalars.first == "\u{FEFF}" { body = Substring(body.unicodeScalars.dropFirst()) }
        // "\r\n" is one Character in Swift, so splitting on "\n" alone left a CRLF file as one line.
        let rawLines = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (offset, rawLine) in rawLines.enumerated() {
            let lineNumber = offset + 1
            var line = Substring(rawLine)
            if let closing = openMultiline {
                guard let end = KeyLocator.closing(closing, in: line) else { continue }
                openMultiline = nil
                line = line[end.upperBound...]
                bracketDepth += KeyLocator.bracketBalance(of: line, openMultiline: &openMultiline)
                continue
            }
            if bracketDepth > 0 {
                bracketDepth += KeyLocator.bracketBalance(of: line, openMultiline: &openMultiline)
                continue
            }
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }

            if trimmed.hasPrefix("["), malformedHeaderLine == nil, !KeyLocator.headerNameStartsWell(trimmed) {
                malformedHeaderLine = lineNumber
            }
            if trimmed.hasPrefix("[[") {
                guard let close = trimmed.range(of: "]]") else { continue }
                let components = KeyLocator.splitKey(trimmed[trimmed.index(trimmed.startIndex, offsetBy: 2)..<close.lowerBound])
                var path = KeyLocator.resolve(Array(components.dropLast()), arrayCounts: arrayCounts)
                if let last = components.last { path.append(last) }
                record(path, lineNumber)    // the array as a whole, e.g. "needs 2 to 10 levels"
                let arrayKey = path.joined(separator: ".")
                let index = arrayCounts[arrayKey, default: -1] + 1
                arrayCounts[arrayKey] = index
                path.append(String(index))
                currentPath = path
                record(path, lineNumber)
                continue
            }
            if trimmed.hasPrefix("[") {
                guard let close = trimmed.firstIndex(of: "]") else { continue }
                let components = KeyLocator.splitKey(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
                currentPath = KeyLocator.resolve(components, arrayCounts: arrayCounts)
                record(currentPath, lineNumber)
                continue
            }
            guard let equals = KeyLocator.firstUnquotedEquals(in: trimmed) else { continue }
            let keyComponents = KeyLocator.splitKey(trimmed[..<equals])
            var path = currentPath
            for component in keyComponents {
                path.append(component)
                record(path, lineNumber)
            }
            bracketDepth += KeyLocator.bracketBalance(of: trimmed[trimmed.index(after: equals)...], openMultiline: &openMultiline)
        }
    }

    /// The line of `path`, or of its nearest ancestor that was written on a line of its own.
    func line(of path: [String]) -> Int? {
        var path = path
        while !path.isEmpty {
            if let line = lines[path.joined(separator: "\u{1F}")] { return line }
            path.removeLast()
        }
        return nil
    }

    private mutating func record(_ path: [String], _ line: Int) {
        let key = path.joined(separator: "\u{1F}")
        if lines[key] == nil { lines[key] = line }
    }

    /// Inside `[[a]]`, a header `[a.b]` or `[[a.b]]` belongs to the latest element of `a`.
    private static func resolve(_ components: [String], arrayCounts: [String: Int]) -> [String] {
        var path: [String] = []
        for component in components {
            path.append(component)
            if let index = arrayCounts[path.joined(separator: ".")] { path.append(String(index)) }
        }
        return path
    }

    /// After `[` or `[[` and blanks: a bare-key character, a quote, or `]` (an error toml++
    /// reports itself). Not the end of the line: toml++ asserts on `[` followed by a line break.
    private static func headerNameStartsWell(_ header: Substring) -> Bool {
        var rest = header.dropFirst()
        if rest.first == "[" { rest = rest.dropFirst() }
        guard let first = rest.drop(while: { $0 == " " || $0 == "\t" }).unicodeScalars.first else { return false }
        switch first {
        case "A"..."Z", "a"..."z", "0"..."9", "_", "-", "\"", "'", "]": return true
        default: return false
        }
    }

    static func splitKey(_ key: Substring) -> [String] {
        var components: [String] = []
        var current = ""
        var quote: Character?
        for character in key {
            if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "." {
                components.append(current.trimmingSpaces())
                current = ""
            } else {
                current.append(character)
            }
        }
        components.append(current.trimmingSpaces())
        return components
    }

    private static func firstUnquotedEquals(in line: Substring) -> Substring.Index? {
        var quote: Character?
        for index in line.indices {
            let character = line[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "=" {
                return index
            } else if character == "#" {
                return nil
            }
        }
        return nil
    }

    /// Where `delimiter` ends a multi-line string in `text`. In a basic string (`"""`) a backslash
    /// escapes the next character, so `\"""` is content, not the end.
    private static func closing(_ delimiter: String, in text: Substring) -> Range<Substring.Index>? {
        guard delimiter == "\"\"\"" else { return text.range(of: delimiter) }
        var index = text.startIndex
        while index < text.endIndex {
            if text[index] == "\\" {
                index = text.index(after: index)
                if index < text.endIndex { index = text.index(after: index) }
                continue
            }
            if text[index...].hasPrefix(delimiter) { return index..<text.index(index, offsetBy: 3) }
            index = text.index(after: index)
        }
        return nil
    }

    /// Net count of `[`/`{` opened minus closed outside strings, noting an unclosed `"""`/`'''`.
    private static func bracketBalance(of text: Substring, openMultiline: inout String?) -> Int {
        var balance = 0
        var index = text.startIndex
        while index < text.endIndex {
            let rest = text[index...]
            if rest.hasPrefix("\"\"\"") || rest.hasPrefix("'''") {
                let delimiter = String(rest.prefix(3))
                let afterOpen = text.index(index, offsetBy: 3)
                if let close = closing(delimiter, in: text[afterOpen...]) {
                    index = close.upperBound
                    continue
                }
                openMultiline = delimiter
                return balance
            }
            let character = text[index]
            switch character {
            case "\"", "'":
                // A one-line string: skip to its closing quote, honouring backslash escapes in "…".
                var scan = text.index(after: index)
                while scan < text.endIndex, text[scan] != character {
                    if character == "\"", text[scan] == "\\" { scan = text.index(after: scan) }
                    if scan < text.endIndex { scan = text.index(after: scan) }
                }
                index = scan < text.endIndex ? text.index(after: scan) : scan
                continue
            case "#": return balance
            case "[", "{": balance += 1
            case "]", "}": balance -= 1
            default: break
            }
            index = text.index(after: index)
        }
        return balance
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

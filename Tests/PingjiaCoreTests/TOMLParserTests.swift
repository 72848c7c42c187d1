import Testing
@testable import PingjiaTOML

/// The TOML grammar itself: every value form Pingjia's files may use, and the malformed input a
/// hall's editor produces, which must end in one error with a line, never a crash.
@Suite struct TOMLParserTests {
    private func parse(_ text: String) throws -> TOMLTableNode {
        do { return try TOMLParser.parse(text) } catch { throw ParseFailure(line: error.line, message: error.message) }
    }

    private struct ParseFailure: Error { let line: Int; let message: String }

    private func failure(_ text: String) -> ParseFailure? {
        do {
            _ = try TOMLParser.parse(text)
            return nil
        } catch {
            return ParseFailure(line: error.line, message: error.message)
        }
    }

    private func value(_ text: String, _ key: String = "v") throws -> TOMLValue? {
        try parse(text)[key]?.value
    }

    @Test func strings() throws {
        guard case .string(let basic) = try value(#"v = "tab\there \"q\" \\ \u00e9 \U0001F600 中文""#) else { Issue.record("basic"); return }
        #expect(basic == "tab\there \"q\" \\ é 😀 中文")
        guard case .string(let literal) = try value(#"v = 'C:\path\no\escapes'"#) else { Issue.record("literal"); return }
        #expect(literal == #"C:\path\no\escapes"#)
        guard case .string(let multi) = try value("v = \"\"\"\nline 1\nline 2 \\\n    joined\"\"\"") else { Issue.record("multi"); return }
        #expect(multi == "line 1\nline 2 joined")
        guard case .string(let quotes) = try value("v = \"\"\"a \"quoted\" word\"\"\"\"\"") else { Issue.record("quotes"); return }
        #expect(quotes == "a \"quoted\" word\"\"")
        guard case .string(let multiLiteral) = try value("v = '''\nraw \\n text\n'''") else { Issue.record("multi literal"); return }
        #expect(multiLiteral == "raw \\n text\n")
    }

    @Test(arguments: [
        ("v = 42", 42), ("v = +7", 7), ("v = -17", -17), ("v = 1_000", 1000), ("v = 0", 0),
        ("v = 0x1e", 30), ("v = 0xDEAD_beef", 0xDEADBEEF), ("v = 0o755", 493), ("v = 0b1101", 13),
    ])
    func integers(_ text: String, _ expected: Int) throws {
        guard case .integer(let number) = try value(text) else { Issue.record("\(text) is not an integer"); return }
        #expect(number == expected)
    }

    @Test func floatsAndBooleans() throws {
        guard case .float(let pi) = try value("v = 3.14"), case .float(let big) = try value("v = -6.02e+23"),
              case .float(let inf) = try value("v = -inf"), case .float(let nan) = try value("v = nan"),
              case .boolean(let yes) = try value("v = true"), case .boolean(let no) = try value("v = false") else {
            Issue.record("a float or boolean was not read as one")
            return
        }
        #expect(pi == 3.14 && big == -6.02e23 && inf == -.infinity && nan.isNaN && yes && !no)
    }

    @Test func arraysAndInlineTablesKeepLines() throws {
        let root = try parse("""
            list = [
              1, # a comment
              "two",
              [3, 4],
              { five = 5 },
            ]
            point = { x = 1, y.z = 2 }
            """)
        guard case .array(let list) = root["list"]?.value else { Issue.record("list"); return }
        #expect(list.map(\.line) == [2, 3, 4, 5])
        guard case .table(let point) = root["point"]?.value, case .table(let y) = point["y"]?.value,
              case .integer(2) = y["z"]?.value else { Issue.record("point"); return }
        #expect(root["point"]?.line == 7)
    }

    @Test func tablesArraysOfTablesAndDottedKeys() throws {
        let root = try parse("""
            [a.b]
            c = 1
            [a]
            d = 2
            [[e]]
            f = 1
            [e.g]
            h = 1
            [[e]]
            f = 2
            [fruit]
            apple.color = "red"
            apple.taste.sweet = true
            [fruit.apple.texture]
            smooth = true
            """)
        guard case .table(let a) = root["a"]?.value, case .table(let b) = a["b"]?.value else { Issue.record("a.b"); return }
        #expect(b["c"]?.line == 2 && a["d"]?.line == 4 && root["a"]?.line == 3)
        guard case .tableArray(let e) = root["e"]?.value else { Issue.record("e"); return }
        #expect(e.count == 2 && e.map(\.line) == [5, 9] && e[0]["g"]?.line == 7)
        guard case .table(let fruit) = root["fruit"]?.value, case .table(let apple) = fruit["apple"]?.value,
              case .table(let texture) = apple["texture"]?.value else { Issue.record("fruit"); return }
        #expect(texture["smooth"]?.line == 15)
    }

    @Test(arguments: [
        ("[=", 1, "expected a key"),
        ("[\u{01}", 1, "expected a key"),
        ("[é]", 1, "expected a key"),
        ("[\n", 1, "expected a key"),
        ("a = 1\n[[ \n", 2, "expected a key"),
        ("h=[}", 1, "expected a value"),
        ("a = [1, 2", 1, "never closed"),
        ("a = [1 2]", 1, "expected ',' or ']'"),
        ("a = { b = 1,\n c = 2 }", 1, "one line"),
        ("a = {b = 1,}", 1, "expected a key"),
        ("a = \"open", 1, "never closed"),
        ("a = \"line\nbreak\"", 1, "not closed on its line"),
        ("a = \"\\q\"", 1, "unknown escape"),
        ("a = \"\\u12\"", 1, "4 hexadecimal digits"),
        ("a = \"\\uD800\"", 1, "not a Unicode scalar"),
        ("a = \"bell\u{07}\"", 1, "control character U+0007"),
        ("# comment \u{01}\n", 1, "control character"),
        ("a = 1\u{0D}b = 2", 1, "carriage return"),
        ("a = 012", 1, "leading zeros"),
        ("a = 1__0", 1, "'_' only between digits"),
        ("a = 0x-1", 1, "not a valid number"),
        ("a = 99999999999999999999", 1, "too large"),
        ("a = 1.", 1, "not a valid number"),
        ("a = 1979-05-27", 1, "dates and times"),
        ("a = 07:32:00", 1, "dates and times"),
        ("a = yes", 1, "write text in quotes"),
        ("a = tru", 1, "true or false"),
        ("a = 1 b = 2", 1, "end of the line"),
        ("a = 1\na = 2", 2, "defined twice (first on line 1)"),
        ("[t]\n[t]", 2, "defined twice (first on line 1)"),
        ("a = 1\n[a]", 2, "defined twice"),
        ("a = 1\n[[a]]", 2, "already a value"),
        ("a = 1\n[a.b]", 2, "already a value"),
        ("[t]\nx.y = 1\n[t.x]", 3, "defined twice"),
        ("[t.x]\n[t]\nx.y = 1", 3, "extend it under its own header"),
        ("a = {b = 1}\n[a]", 2, "defined twice"),
        ("a = [1]\n[[a]]", 2, "already a value"),
        ("= 1", 1, "expected a key"),
        ("a", 1, "expected '='"),
        ("a =", 1, "expected a value"),
        ("\"\"\"k\"\"\" = 1", 1, "multi-line"),
        ("a = '''never", 1, "never closed"),
        ("a = \"\"\"x\\  y\"\"\"", 1, "must end the line"),
    ])
    func malformedInputIsOneErrorWithALine(_ text: String, _ line: Int, _ fragment: String) {
        guard let failure = failure(text) else {
            Issue.record("accepted: \(text.debugDescription)")
            return
        }
        #expect(failure.line == line, "\(text.debugDescription): \(failure.message)")
        #expect(failure.message.contains(fragment), "\(text.debugDescription): \(failure.message)")
    }

    @Test func deepNestingIsRefusedNotOverflowingTheStack() {
        let deep = "a = " + String(repeating: "[", count: 10_000)
        #expect(failure(deep)?.message.contains("nested more than") == true)
        let ok = "a = " + String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(failure(ok) == nil)
    }

    @Test func emptyDocumentsAndByteOrderMark() throws {
        #expect(try parse("").keys.isEmpty)
        #expect(try parse("\n# only a comment\n\n").keys.isEmpty)
        #expect(try parse("\u{FEFF}a = 1\r\nb = 2\r\n")["b"]?.line == 2)
    }
}

import Foundation
import PingjiaTOML
import Testing

/// Where keys are found. toml++ gives no positions, so `KeyLocator` re-scans the text; every
/// `file:line` a hall's IT person sees depends on it landing on the right line.
@Suite("TOML key lines")
struct KeyLocatorTests {
    static func document(_ text: String) throws -> TOMLDocument {
        try TOMLDocument(text: text, file: "test.toml")
    }

    @Test func keysOfNestedTables() throws {
        let doc = try Self.document("""
            top = 1
            [device]
            name = "x"
            [device.display]
            width = 800
            [qr]
            url = "https://a.example/"
            """)
        #expect(doc.line(of: ["top"]) == 1)
        #expect(doc.line(of: ["device"]) == 2)
        #expect(doc.line(of: ["device", "name"]) == 3)
        #expect(doc.line(of: ["device", "display"]) == 4)
        #expect(doc.line(of: ["device", "display", "width"]) == 5)
        #expect(doc.line(of: ["qr", "url"]) == 7)
    }

    @Test func elementsOfArraysOfTables() throws {
        let doc = try Self.document("""
            [[levels]]
            value = 1

            [[levels]]
            value = 2
            label = "b"

            [[levels]]
            label = "c"
            """)
        #expect(doc.line(of: ["levels"]) == 1, "the array is where its first element starts")
        #expect(doc.line(of: ["levels", "0", "value"]) == 2)
        #expect(doc.line(of: ["levels", "1"]) == 4)
        #expect(doc.line(of: ["levels", "1", "label"]) == 6)
        #expect(doc.line(of: ["levels", "2", "label"]) == 9)
        // A key an element lacks falls back to the element's header.
        #expect(doc.line(of: ["levels", "2", "value"]) == 8)
    }

    @Test func subTablesOfArrayElementsBelongToTheLatestElement() throws {
        let doc = try Self.document("""
            [[fruit]]
            name = "apple"
            [fruit.physical]
            color = "red"
            [[fruit.variety]]
            name = "red delicious"
            [[fruit]]
            name = "banana"
            [[fruit.variety]]
            name = "plantain"
            """)
        #expect(doc.line(of: ["fruit", "0", "physical", "color"]) == 4)
        #expect(doc.line(of: ["fruit", "0", "variety", "0", "name"]) == 6)
        #expect(doc.line(of: ["fruit", "1", "name"]) == 8)
        #expect(doc.line(of: ["fruit", "1", "variety", "0", "name"]) == 10)
    }

    @Test func dottedKeys() throws {
        let doc = try Self.document("""
            a.b.c = 1
            [x]
            y . z = 2
            """)
        #expect(doc.line(of: ["a"]) == 1)
        #expect(doc.line(of: ["a", "b", "c"]) == 1)
        #expect(doc.line(of: ["x", "y", "z"]) == 3)
    }

    @Test func quotedKeys() throws {
        let doc = try Self.document("""
            "a.b" = 1
            'key with spaces' = 2
            site."example.com" = true
            ["quoted table"]
            "#not-a-comment" = 3
            "x=y" = 4
            """)
        #expect(doc.line(of: ["a.b"]) == 1)
        #expect(doc.line(of: ["a", "b"]) == nil, "a quoted dot is not a separator")
        #expect(doc.line(of: ["key with spaces"]) == 2)
        #expect(doc.line(of: ["site", "example.com"]) == 3)
        #expect(doc.line(of: ["quoted table", "#not-a-comment"]) == 5)
        #expect(doc.line(of: ["quoted table", "x=y"]) == 6)
    }

    @Test func keysAfterAMultiLineArray() throws {
        let doc = try Self.document("""
            flags = [
              "test",
              "[not a table]",   # a comment with [ and {
              { name = "x" },
            ]
            after = 1
            [t]
            nested = [[1, 2],
                      [3]]
            inside = 2
            """)
        #expect(doc.line(of: ["after"]) == 6)
        #expect(doc.line(of: ["not a table"]) == nil)
        #expect(doc.line(of: ["t", "inside"]) == 10)
    }

    @Test func keysAfterAMultiLineBasicString() throws {
        let doc = try Self.document(#"""
            intro = """
            [fake]
            fake = "key"
            """
            after = 1
            both = """one line""" # and a comment
            escaped = """a \""" b
            fake2 = 0
            """
            last = 2
            """#)
        #expect(doc.line(of: ["after"]) == 5)
        #expect(doc.line(of: ["both"]) == 6)
        #expect(doc.line(of: ["fake"]) == nil)
        #expect(doc.line(of: ["fake2"]) == nil)
        #expect(doc.line(of: ["last"]) == 10)
    }

    @Test func keysAfterAMultiLineLiteralString() throws {
        let doc = try Self.document("""
            path = '''
            C:\\temp\\
            not = "a key"
            '''
            after = 1
            list = ['''
            x = 1
            ''', "y"]
            last = 2
            """)
        #expect(doc.line(of: ["after"]) == 5)
        #expect(doc.line(of: ["not"]) == nil)
        #expect(doc.line(of: ["x"]) == nil)
        #expect(doc.line(of: ["last"]) == 9)
    }

    @Test func hashInsideStringsIsNotAComment() throws {
        let doc = try Self.document("""
            colour = "#ff0000"   # red
            open = "[ { # ["
            lit = 'a # [ b'
            escaped = "quote \\" # ["
            after = 1
            """)
        #expect(doc.line(of: ["open"]) == 2)
        #expect(doc.line(of: ["after"]) == 5)
    }

    @Test func inlineTableKeysFallBackToTheirTable() throws {
        let doc = try Self.document("""
            first = 1
            point = { x = 1, y = 2 }
            """)
        #expect(doc.line(of: ["point", "y"]) == 2)
    }

    @Test func windowsLineEndings() throws {
        // A config edited in Notepad: toml++ accepts CRLF, so the lines must still be right.
        let doc = try Self.document("# comment\r\nname = \"x\"\r\n[qr]\r\nurl = \"y\"\r\n\r\n[[levels]]\r\nvalue = 1\r\n")
        #expect(doc.line(of: ["name"]) == 2)
        #expect(doc.line(of: ["qr", "url"]) == 4)
        #expect(doc.line(of: ["levels", "0", "value"]) == 7)
    }

    @Test func byteOrderMark() throws {
        let doc = try Self.document("\u{FEFF}[device]\nname = \"x\"\n")
        #expect(doc.line(of: ["device"]) == 1)
        #expect(doc.line(of: ["device", "name"]) == 2)
    }

    @Test func syntaxErrorReportsTheParsersLine() {
        let found = problems { _ = try Self.document("a = 1\n\nb = = 2\n") }
        #expect(found.count == 1)
        #expect(found.first?.line == 3)
        #expect(found.first?.message.hasPrefix("not valid TOML: ") == true)
        #expect(found.first?.description.hasPrefix("test.toml:3: not valid TOML") == true)
    }

    @Test func duplicateKeyIsASyntaxErrorOnTheSecondLine() {
        let found = problems { _ = try Self.document("a = 1\nb = 2\na = 3\n") }
        #expect(found.map(\.line) == [3])
    }
}

@Suite("TOMLDocument reading")
struct TOMLDocumentTests {
    @Test func keysNobodyAskedForAreRejectedWithTheirLines() throws {
        let doc = try TOMLDocument(text: """
            known = 1
            [section]
            wanted = "x"
            typo = "y"
            [extra]
            z = 1
            """, file: "t.toml")
        let root = doc.root
        #expect(root.int("known") == 1)
        #expect(root.table("section")?.string("wanted") == "x")
        let found = problems { try doc.finish() }
        #expect(found.map(\.description) == [
            "t.toml:4: unknown key 'typo' in [section] (known keys: wanted)",
            "t.toml:5: unknown key 'extra' at the top level (known keys: known, section)",
        ])
    }

    @Test func wrongTypesAreRecordedAndReadAsAbsent() throws {
        let doc = try TOMLDocument(text: """
            n = "1"
            b = 1
            s = 2
            list = ["a", 1]
            """, file: "t.toml")
        let root = doc.root
        #expect(root.int("n") == nil)
        #expect(root.bool("b") == nil)
        #expect(root.string("s") == nil)
        #expect(root.stringArray("list") == nil)
        #expect(root.string("missing") == nil, "absent and not required is no problem")
        let found = problems { try doc.finish() }
        #expect(found.map(\.line) == [1, 2, 3, 4])
        #expect(found.map(\.message) == [
            "'n' must be an integer, not string",
            "'b' must be true or false, not integer",
            "'s' must be a string, not integer",
            "'list' must be an array of strings, not array",
        ])
    }

    @Test func problemsAreSortedByLine() {
        let sorted = TOMLProblems([
            TOMLProblem(file: "f", line: 9, message: "c"),
            TOMLProblem(file: "f", line: nil, message: "a"),
            TOMLProblem(file: "f", line: 2, message: "b"),
        ])
        #expect(sorted.problems.map(\.message) == ["a", "b", "c"])
        #expect(sorted.description == "f: a\nf:2: b\nf:9: c")
    }
}

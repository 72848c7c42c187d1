import Foundation
import PingjiaTOML
import Testing
@testable import PingjiaCore

@Suite("Shipped scales")
struct ShippedScaleTests {
    static let reasons = [
        RatingReason(code: "slow", label: "办理速度慢"),
        RatingReason(code: "obstruct", label: "故意刁难"),
        RatingReason(code: "bribe", label: "吃拿卡要"),
        RatingReason(code: "attitude", label: "服务态度差"),
        RatingReason(code: "other", label: "其他"),
    ]

    static func load(_ name: String) throws -> Scale {
        let path = repositoryRoot.appendingPathComponent("scales/\(name).toml").path
        return try Scale.parse(TOMLDocument(contentsOf: path), expectedName: name)
    }

    @Test func fiveIsTheGBT39046Scale() throws {
        let five = try Self.load("five")
        #expect(five.name == "five")
        #expect(five.title == "五级评价")
        #expect(five.levels.map(\.value) == [1, 2, 3, 4, 5])
        #expect(five.levels.map(\.code.rawValue) == [1, 2, 3, 4, 5])
        #expect(five.levels.map(\.label) == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"])
        #expect(five.levels.filter(\.isBad).map(\.value) == [4, 5])
        #expect(five.reasons == Self.reasons)
    }

    @Test func threeMapsOntoGBCodes2To4() throws {
        let three = try Self.load("three")
        #expect(three.name == "three")
        #expect(three.title == "三级评价")
        #expect(three.levels.map(\.value) == [1, 2, 3])
        #expect(three.levels.map(\.label) == ["满意", "一般", "不满意"])
        #expect(three.levels.map(\.code.rawValue) == [2, 3, 4])
        #expect(three.levels.filter(\.isBad).map(\.label) == ["不满意"])
        #expect(three.reasons == Self.reasons)
    }

    @Test func shippedFileUnderAnotherNameIsRejected() {
        let path = repositoryRoot.appendingPathComponent("scales/five.toml").path
        let found = problems { _ = try Scale.parse(TOMLDocument(contentsOf: path), expectedName: "seven") }
        #expect(found.map(\.line) == [4])
        #expect(found.first?.message.contains("does not match the file name 'seven.toml'") == true)
    }
}

/// One rejected scale file: the text, and every problem expected, in line order.
struct BadScale: Sendable, CustomTestStringConvertible {
    struct Expected: Sendable {
        let line: Int?
        let fragment: String
    }

    let testDescription: String
    let text: String
    let expected: [Expected]

    init(_ description: String, _ text: String, _ expected: [(Int?, String)]) {
        testDescription = description
        self.text = text
        self.expected = expected.map { Expected(line: $0.0, fragment: $0.1) }
    }
}

@Suite("Scale files are checked strictly")
struct ScaleParsingTests {
    static let file = "scales/demo.toml"

    static func parse(_ text: String) -> [TOMLProblem] {
        problems { _ = try Scale.parse(text: text, file: file, expectedName: "demo") }
    }

    @Test func minimalScaleParses() throws {
        let scale = try Scale.parse(text: """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 2
            [[levels]]
            value = 2
            label = "差"
            code = 5
            """, file: Self.file, expectedName: "demo")
        #expect(scale.levels == [ScaleLevel(value: 1, label: "好", code: SatisfactionCode(rawValue: 2)!),
                                 ScaleLevel(value: 2, label: "差", code: SatisfactionCode(rawValue: 5)!)])
        #expect(scale.reasons.isEmpty)
    }

    @Test func equalCodesOnNeighbouringLevelsAreAllowed() throws {
        // Non-decreasing, not strictly increasing: a four-key pad may map two keys onto one code.
        let scale = try Scale.parse(text: """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "很好"
            code = 1
            [[levels]]
            value = 2
            label = "好"
            code = 1
            [[levels]]
            value = 3
            label = "差"
            code = 4
            """, file: Self.file, expectedName: "demo")
        #expect(scale.levels.map(\.code.rawValue) == [1, 1, 4])
    }

    static let badScales: [BadScale] = [
        BadScale("unknown top-level key", """
            name = "demo"
            title = "演示"
            colour = "red"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            """, [(3, "unknown key 'colour' at the top level (known keys: levels, name, reasons, title)")]),
        BadScale("unknown key inside [[levels]]", """
            name = "demo"
            title = "演示"

            [[levels]]
            value = 1
            label = "好"
            code = 1

            [[levels]]
            value = 2
            label = "差"
            colour = "red"
            code = 4
            """, [(12, "unknown key 'colour' in [levels[1]] (known keys: code, label, value)")]),
        BadScale("unknown key inside [[reasons]]", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            [[reasons]]
            code = "slow"
            label = "慢"
            lable = "typo"
            """, [(14, "unknown key 'lable' in [reasons[0]] (known keys: code, label)")]),
        BadScale("code of the wrong type", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = "1"
            [[levels]]
            value = 2
            label = "差"
            code = 4
            """, [(6, "'code' must be an integer, not string")]),
        BadScale("value out of order", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 3
            label = "差"
            code = 4
            """, [(8, "level values must count 1, 2, 3 … best first; this one should be 2, not 3")]),
        BadScale("code 0", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 0
            [[levels]]
            value = 2
            label = "差"
            code = 4
            """, [(6, "code 0 is not a GB/T 39046 code: use 1 (非常满意) to 5 (非常不满意)")]),
        BadScale("code 6", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 6
            """, [(10, "code 6 is not a GB/T 39046 code: use 1 (非常满意) to 5 (非常不满意)")]),
        BadScale("codes going back towards better", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            [[levels]]
            value = 3
            label = "一般"
            code = 3
            """, [(14, "levels go from best to worst, so code 3 cannot follow code 4")]),
        BadScale("duplicate label", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "满意"
            code = 2
            [[levels]]
            value = 2
            label = "满意"
            code = 4
            """, [(9, "label '满意' is used by two levels")]),
        BadScale("empty label", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "  "
            code = 2
            [[levels]]
            value = 2
            label = "差"
            code = 4
            """, [(5, "label must not be empty")]),
        BadScale("duplicate reason code", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            [[reasons]]
            code = "slow"
            label = "办理速度慢"
            [[reasons]]
            code = "slow"
            label = "太慢了"
            """, [(15, "reason code 'slow' is used twice")]),
        BadScale("reason code that is not a slug", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            [[reasons]]
            code = "Too Slow"
            label = "办理速度慢"
            """, [(12, "reason code 'Too Slow' must be 1-32 lowercase letters, digits or '-'")]),
        BadScale("scale name that is not a slug", """
            title = "演示"
            name = "Demo"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            """, [(2, "scale name 'Demo' must be 1-32 lowercase letters, digits or '-'")]),
        BadScale("name not matching the file name", """
            # copied from five.toml and forgot to rename
            name = "five"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            """, [(2, "scale name 'five' does not match the file name 'demo.toml': rename one of them")]),
        BadScale("a single level", """
            name = "demo"
            title = "演示"

            [[levels]]
            value = 1
            label = "好"
            code = 1
            """, [(4, "a scale needs 2 to 10 levels, this one has 1")]),
        BadScale("an empty levels array", """
            name = "demo"
            title = "演示"
            levels = []
            """, [(3, "a scale needs 2 to 10 levels, this one has 0")]),
        BadScale("levels of the wrong type", """
            name = "demo"
            title = "演示"
            levels = 5
            """, [(3, "'levels' must be an array of tables ([[levels]]), not integer")]),
        BadScale("eleven levels", (1...11).reduce("name = \"demo\"\ntitle = \"演示\"\n") {
            $0 + "[[levels]]\nvalue = \($1)\nlabel = \"L\($1)\"\ncode = \($1 < 6 ? $1 : 5)\n"
        }, [(3, "a scale needs 2 to 10 levels, this one has 11")]),
        BadScale("missing label in a level", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            code = 4
            """, [(7, "missing required key 'label' in [levels[1]]")]),
        BadScale("missing title", """
            name = "demo"
            [[levels]]
            value = 1
            label = "好"
            code = 1
            [[levels]]
            value = 2
            label = "差"
            code = 4
            """, [(nil, "missing required key 'title'")]),
        BadScale("missing levels", """
            name = "demo"
            title = "演示"
            """, [(nil, "missing required key 'levels'")]),
        BadScale("TOML syntax error", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好
            code = 1
            """, [(5, "not valid TOML")]),
        BadScale("several problems, reported in line order", """
            name = "demo"
            title = "演示"
            [[levels]]
            value = 1
            label = "好"
            code = 7
            [[levels]]
            value = 2
            label = "好"
            code = "4"
            extra = true
            [[reasons]]
            code = "BAD"
            label = "x"
            tone = "red"
            """, [
                (6, "code 7 is not a GB/T 39046 code"),
                (9, "label '好' is used by two levels"),
                (10, "'code' must be an integer, not string"),
                (11, "unknown key 'extra' in [levels[1]]"),
                (13, "reason code 'BAD' must be"),
                (15, "unknown key 'tone' in [reasons[0]]"),
            ]),
    ]

    @Test(arguments: badScales)
    func badScaleIsRejectedWithLineAndReason(_ bad: BadScale) {
        let found = Self.parse(bad.text)
        #expect(found.map(\.line) == bad.expected.map(\.line), "\(found)")
        for (problem, expected) in zip(found, bad.expected) {
            #expect(problem.message.contains(expected.fragment), "\(problem.message) lacks \(expected.fragment)")
            #expect(problem.file == Self.file)
            let prefix = expected.line.map { "\(Self.file):\($0): " } ?? "\(Self.file): "
            #expect(problem.description.hasPrefix(prefix))
        }
    }

    @Test func unreadableFileNamesTheFile() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).toml").path
        let found = problems { _ = try TOMLDocument(contentsOf: path) }
        #expect(found == [TOMLProblem(file: path, line: nil, message: "cannot read the file (missing, or no permission)")])
    }

    @Test func fileThatIsNotUTF8NamesTheLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("PingjiaCoreTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("demo.toml")
        // "演示" in GBK, as a Windows editor might save it.
        try (Data("name = \"demo\"\n".utf8) + Data([0x74, 0x69, 0x74, 0x6C, 0x65, 0x20, 0x3D, 0x20, 0x22, 0xD1, 0xDD, 0xCA, 0xBE, 0x22, 0x0A]))
            .write(to: file)
        let found = problems { _ = try TOMLDocument(contentsOf: file.path) }
        #expect(found.map(\.line) == [2])
        #expect(found.first?.message.contains("not UTF-8") == true)
    }
}

import PingjiaTOML

/// The satisfaction code of GB/T 39046-2020: 1 非常满意 … 5 非常不满意, whatever scale a hall uses.
///
/// Every scale maps its levels onto this code so reports and exports compare halls that use
/// different keypads. Other targets number the other way round; their mappings are explicit
/// export tables, never arithmetic on this value.
public struct SatisfactionCode: RawRepresentable, Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: Int

    public init?(rawValue: Int) {
        guard (1...5).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// 4 不满意 and 5 非常不满意 are 差评: each must be verified, rectified and answered.
    public var isBad: Bool { rawValue >= 4 }

    public var standardLabel: String {
        ["非常满意", "满意", "基本满意", "不满意", "非常不满意"][rawValue - 1]
    }

    public var description: String { "\(rawValue) \(standardLabel)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

public struct ScaleLevel: Sendable, Hashable, Codable {
    /// What the citizen pressed: 1 is the best level of the scale.
    public let value: Int
    public let label: String
    public let code: SatisfactionCode

    public init(value: Int, label: String, code: SatisfactionCode) {
        self.value = value
        self.label = label
        self.code = code
    }

    public var isBad: Bool { code.isBad }
}

/// Why a citizen gave a bad rating (办理速度慢, 故意刁难 …), offered on touch devices and the phone page.
public struct RatingReason: Sendable, Hashable, Codable {
    public let code: String
    public let label: String

    public init(code: String, label: String) {
        self.code = code
        self.label = label
    }
}

/// A rating scale: its levels, best first, and the reasons offered for a bad rating.
/// Scales are data (`scales/*.toml`), so a hall can relabel levels without a new build.
public struct Scale: Sendable, Hashable, Codable {
    public let name: String
    public let title: String
    public let levels: [ScaleLevel]
    public let reasons: [RatingReason]

    public init(name: String, title: String, levels: [ScaleLevel], reasons: [RatingReason]) {
        self.name = name
        self.title = title
        self.levels = levels
        self.reasons = reasons
    }

    public func level(_ value: Int) -> ScaleLevel? {
        levels.first { $0.value == value }
    }

    public func reason(_ code: String) -> RatingReason? {
        reasons.first { $0.code == code }
    }
}

extension Scale {
    /// Parses and validates a scale file. Every problem is reported with its line; a scale with
    /// any problem is rejected whole, because a mislabelled level would corrupt every report.
    ///
    /// - Parameter expectedName: the file's base name; a scale's `name` must match it so the name
    ///   stored in each rating always finds its file again.
    public static func parse(text: String, file: String, expectedName: String? = nil) throws(TOMLProblems) -> Scale {
        try parse(TOMLDocument(text: text, file: file), expectedName: expectedName)
    }

    public static func parse(_ document: TOMLDocument, expectedName: String? = nil) throws(TOMLProblems) -> Scale {
        let root = document.root
        let name = root.string("name", required: true)
        let title = root.string("title", required: true)
        let levelArray = root.tables("levels", required: true)
        let levelTables = levelArray ?? []
        let reasonTables = root.tables("reasons") ?? []

        if let name {
            if !Identifier.isSlug(name) {
                root.problem("name", "scale name '\(name)' must be 1-32 lowercase letters, digits or '-'")
            } else if let expectedName, name != expectedName {
                root.problem("name", "scale name '\(name)' does not match the file name '\(expectedName).toml': rename one of them")
            }
        }
        if let title, title.trimmingSpaces().isEmpty { root.problem("title", "title must not be empty") }

        var levels: [ScaleLevel] = []
        var labels: Set<String> = []    // of every level, so a duplicate is found even beside a broken level
        for (index, table) in levelTables.enumerated() {
            let value = table.int("value", required: true)
            let label = table.string("label", required: true)
            let rawCode = table.int("code", required: true)
            if let value, value != index + 1 {
                table.problem("value", "level values must count 1, 2, 3 … best first; this one should be \(index + 1), not \(value)")
            }
            if let label, label.trimmingSpaces().isEmpty { table.problem("label", "label must not be empty") }
            if let label, !labels.insert(label).inserted {
                table.problem("label", "label '\(label)' is used by two levels")
            }
            var code: SatisfactionCode?
            if let rawCode {
                code = SatisfactionCode(rawValue: rawCode)
                if code == nil { table.problem("code", "code \(rawCode) is not a GB/T 39046 code: use 1 (非常满意) to 5 (非常不满意)") }
            }
            if let code, let previous = levels.last, code < previous.code {
                table.problem("code", "levels go from best to worst, so code \(code.rawValue) cannot follow code \(previous.code.rawValue)")
            }
            if let value, let label, let code, value == index + 1 {
                levels.append(ScaleLevel(value: value, label: label, code: code))
            }
        }
        // `levels = []` is an array of tables too, with none: without this it made a scale of no levels.
        if levelArray != nil, levelTables.count < 2 || levelTables.count > 10 {
            root.problem("levels", "a scale needs 2 to 10 levels, this one has \(levelTables.count)")
        }

        var reasons: [RatingReason] = []
        for table in reasonTables {
            let code = table.string("code", required: true)
            let label = table.string("label", required: true)
            if let code, !Identifier.isSlug(code) {
                table.problem("code", "reason code '\(code)' must be 1-32 lowercase letters, digits or '-'")
            }
            if let code, reasons.contains(where: { $0.code == code }) {
                table.problem("code", "reason code '\(code)' is used twice")
            }
            if let label, label.trimmingSpaces().isEmpty { table.problem("label", "label must not be empty") }
            if let code, let label { reasons.append(RatingReason(code: code, label: label)) }
        }

        try document.finish()
        guard let name, let title else { throw TOMLProblems([]) }  // unreachable: finish() reported them
        return Scale(name: name, title: title, levels: levels, reasons: reasons)
    }
}

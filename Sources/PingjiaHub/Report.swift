import Foundation

/// A rate as published: exact numerator and denominator, and the percentage rounded half up to
/// two decimals ("0.17" for 40 / 23,119). No percentage when the denominator is 0.
public struct ReportRate: Sendable, Codable, Equatable {
    public let numerator: Int
    public let denominator: Int
    public let percent: String?

    public init(_ numerator: Int, _ denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
        percent = denominator > 0 ? Self.percent(numerator, denominator) : nil
    }

    /// Integer arithmetic, so no binary fraction decides a rounding: hundredths of a percent,
    /// half up.
    static func percent(_ numerator: Int, _ denominator: Int) -> String {
        let hundredths = (numerator * 20_000 + denominator) / (2 * denominator)
        let whole = hundredths / 100, fraction = hundredths % 100
        return "\(whole)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }

    public var display: String { percent.map { "\($0)%" } ?? "—" }
}

/// One line of a report: counts and the three rates.
///
/// - bad rate = (valid + not yet verified 差评) / (ratings − mistaken − malicious)
/// - unrated rate = 未评价 events / (ratings + 未评价 events), leaving out a 未评价 whose session
///   was rated on the phone (its id is the phone rating's token nonce)
/// - 回访 rate = valid 差评 whose citizen was called back / valid 差评
public struct ReportLine: Sendable, Codable, Equatable {
    public struct Bad: Sendable, Codable, Equatable {
        public let valid: Int
        public let mistaken: Int
        public let malicious: Int
        public let unverified: Int
    }

    public let key: String
    public let ratings: Int
    public let good: Int
    public let basic: Int
    public let bad: Bad
    public let unrated: Int
    public let followedUp: Int
    public let badRate: ReportRate
    public let unratedRate: ReportRate
    public let followUpRate: ReportRate

    public init(_ counts: ReportCounts) {
        key = counts.key
        ratings = counts.ratings
        good = counts.good
        basic = counts.basic
        bad = Bad(valid: counts.badValid, mistaken: counts.badMistaken, malicious: counts.badMalicious, unverified: counts.badUnverified)
        unrated = counts.unrated
        followedUp = counts.followedUp
        badRate = ReportRate(counts.badValid + counts.badUnverified, counts.ratings - counts.badMistaken - counts.badMalicious)
        unratedRate = ReportRate(counts.unrated, counts.ratings + counts.unrated)
        followUpRate = ReportRate(counts.followedUp, counts.badValid)
    }
}

/// A whole report: the query, one line per group (none without `by`) and the total.
public struct Report: Sendable, Codable, Equatable {
    public let from: String
    public let to: String
    public let hall: String?
    public let by: String?
    public let timeZone: String
    public let lines: [ReportLine]
    public let total: ReportLine

    public init(query: ReportQuery, groups: [ReportCounts]) {
        from = query.from
        to = query.to
        hall = query.hall
        by = query.by?.rawValue
        timeZone = "Asia/Shanghai"
        lines = query.by == nil ? [] : groups.map(ReportLine.init)
        var sum = ReportCounts(key: "")
        for group in groups {
            sum.ratings += group.ratings
            sum.good += group.good
            sum.basic += group.basic
            sum.badValid += group.badValid
            sum.badMistaken += group.badMistaken
            sum.badMalicious += group.badMalicious
            sum.badUnverified += group.badUnverified
            sum.unrated += group.unrated
            sum.followedUp += group.followedUp
        }
        total = ReportLine(sum)
    }

    /// Checks a query's dates and order; the message names the bad argument.
    public static func validate(_ query: ReportQuery) throws(HubError) {
        guard let from = LocalDay(query.from) else { throw .invalid("--from '\(query.from)' is not a date YYYY-MM-DD") }
        guard let to = LocalDay(query.to) else { throw .invalid("--to '\(query.to)' is not a date YYYY-MM-DD") }
        guard from <= to else { throw .invalid("--from \(query.from) is after --to \(query.to)") }
    }

    static let columns = ["评价数", "满意", "基本满意", "差评(属实)", "误评", "恶意差评", "待核实差评", "差评率", "未评价", "未评价率", "回访", "回访率"]
    static let csvColumns = ["key", "ratings", "good", "basic", "bad_valid", "bad_mistaken", "bad_malicious", "bad_unverified",
                             "bad_rate_percent", "unrated", "unrated_rate_percent", "followed_up", "follow_up_rate_percent"]

    static func cells(_ line: ReportLine) -> [String] {
        ["\(line.ratings)", "\(line.good)", "\(line.basic)", "\(line.bad.valid)", "\(line.bad.mistaken)", "\(line.bad.malicious)",
         "\(line.bad.unverified)", line.badRate.display, "\(line.unrated)", line.unratedRate.display, "\(line.followedUp)",
         line.followUpRate.display]
    }

    var keyTitle: String {
        switch by {
        case "staff": "工号"
        case "window": "窗口"
        case "matter": "事项编码"
        case "day": "日期"
        default: "范围"
        }
    }

    public func table() -> String {
        var rows = [[keyTitle] + Self.columns]
        for line in lines { rows.append([line.key.isEmpty ? "(无)" : line.key] + Self.cells(line)) }
        rows.append(["合计"] + Self.cells(total))
        // Width in terminal columns: CJK characters take two.
        func width(_ text: String) -> Int { text.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x1100 ? 2 : 1) } }
        var widths = [Int](repeating: 0, count: rows[0].count)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], width(cell)) } }
        let header = "\(from) – \(to)" + (hall.map { "，\($0)" } ?? "，全部大厅") + "（北京时间）\n"
        return header + rows.map { row in
            row.enumerated().map { index, cell in
                let pad = String(repeating: " ", count: widths[index] - width(cell))
                return index == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    public func csv() -> String {
        func field(_ text: String) -> String {
            text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
        }
        func row(_ key: String, _ line: ReportLine) -> String {
            [field(key), "\(line.ratings)", "\(line.good)", "\(line.basic)", "\(line.bad.valid)", "\(line.bad.mistaken)",
             "\(line.bad.malicious)", "\(line.bad.unverified)", line.badRate.percent ?? "", "\(line.unrated)",
             line.unratedRate.percent ?? "", "\(line.followedUp)", line.followUpRate.percent ?? ""].joined(separator: ",")
        }
        var out = Self.csvColumns.joined(separator: ",") + "\n"
        for line in lines { out += row(line.key, line) + "\n" }
        out += row("TOTAL", total) + "\n"
        return out
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }
}

extension CaseWorkflow {
    /// A report after a sweep, so every 差评 has its case and verdict column.
    public func report(_ query: ReportQuery) async throws(CaseWorkflowError) -> Report {
        do { try Report.validate(query) } catch { throw .invalidInput(error.description) }
        try await sweep()
        do { return Report(query: query, groups: try await storage.report(query)) } catch { throw .storage(error) }
    }
}

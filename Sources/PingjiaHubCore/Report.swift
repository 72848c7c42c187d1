import PingjiaCore

/// A 差评 case's verdict after 核实 (and after 申诉复核).
public enum Verdict: String, Sendable, Codable, CaseIterable {
    /// 属实
    case valid
    /// 误评
    case mistaken
    /// 恶意差评
    case malicious
}

/// Report items counted by group, as a backend reads them: one count per grouping key, record
/// kind, satisfaction code, case verdict and whether the citizen was called back. The rule of
/// what counts where is `ReportFolding`, not SQL.
public struct ReportCell: Sendable, Equatable {
    public var key: String
    public var kind: RecordKind
    public var code: Int
    public var verdict: Verdict?
    public var followedUp: Bool
    public var count: Int

    public init(key: String, kind: RecordKind, code: Int, verdict: Verdict?, followedUp: Bool, count: Int) {
        self.key = key
        self.kind = kind
        self.code = code
        self.verdict = verdict
        self.followedUp = followedUp
        self.count = count
    }
}

public struct ReportCounts: Sendable, Equatable, Codable {
    /// The staff id, window, matter code or local date; "" for the whole range or a missing value.
    public var key: String
    public var ratings: Int
    public var good: Int
    public var basic: Int
    public var badValid: Int
    public var badMistaken: Int
    public var badMalicious: Int
    public var badUnverified: Int
    public var unrated: Int
    /// Valid 差评 whose citizen was called back (the case reached 回访).
    public var followedUp: Int

    public init(key: String, ratings: Int = 0, good: Int = 0, basic: Int = 0, badValid: Int = 0, badMistaken: Int = 0,
                badMalicious: Int = 0, badUnverified: Int = 0, unrated: Int = 0, followedUp: Int = 0) {
        self.key = key
        self.ratings = ratings
        self.good = good
        self.basic = basic
        self.badValid = badValid
        self.badMistaken = badMistaken
        self.badMalicious = badMalicious
        self.badUnverified = badUnverified
        self.unrated = unrated
        self.followedUp = followedUp
    }
}

/// How report items fold into a line (docs/DESIGN.md, "Reports"): ratings with code 1-2 are
/// good, 3 基本满意, 4-5 差评 by their case's verdict (none yet: unverified); 未评价 apart;
/// 回访 counts valid 差评 whose citizen was called back.
public enum ReportFolding {
    /// One line per key, in byte order of the key (as both databases' binary collation sorts).
    public static func fold(_ cells: [ReportCell]) -> [ReportCounts] {
        var lines: [String: ReportCounts] = [:]
        for cell in cells {
            var line = lines[cell.key] ?? ReportCounts(key: cell.key)
            add(cell, to: &line)
            lines[cell.key] = line
        }
        return lines.values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    static func add(_ cell: ReportCell, to line: inout ReportCounts) {
        let n = cell.count
        switch cell.kind {
        case .unrated:
            line.unrated += n
        case .rating:
            line.ratings += n
            switch cell.code {
            case 1, 2: line.good += n
            case 3: line.basic += n
            case 4...:
                switch cell.verdict {
                case .valid?:
                    line.badValid += n
                    if cell.followedUp { line.followedUp += n }
                case .mistaken?: line.badMistaken += n
                case .malicious?: line.badMalicious += n
                case nil: line.badUnverified += n
                }
            default: break
            }
        default:
            break
        }
    }
}

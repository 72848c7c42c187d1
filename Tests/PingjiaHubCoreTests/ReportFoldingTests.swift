import PingjiaCore
import PingjiaHubCore
import Testing

/// How counted report items fold into lines, without a database.
@Suite struct ReportFoldingTests {
    static func cell(_ key: String, _ kind: RecordKind = .rating, code: Int, verdict: Verdict? = nil, followedUp: Bool = false,
                     n count: Int) -> ReportCell {
        ReportCell(key: key, kind: kind, code: code, verdict: verdict, followedUp: followedUp, count: count)
    }

    @Test func eachItemCountsWhereTheDefinitionsSay() {
        let lines = ReportFolding.fold([
            Self.cell("A1001", code: 1, n: 5), Self.cell("A1001", code: 2, n: 3), Self.cell("A1001", code: 3, n: 2),
            Self.cell("A1001", code: 4, verdict: .valid, followedUp: true, n: 2), Self.cell("A1001", code: 5, verdict: .valid, n: 1),
            Self.cell("A1001", code: 4, verdict: .mistaken, n: 1), Self.cell("A1001", code: 5, verdict: .malicious, n: 1), Self.cell("A1001", code: 4, n: 4),
            Self.cell("A1001", .unrated, code: 0, n: 6), Self.cell("A1001", .reasons, code: 0, n: 9),
        ])
        #expect(lines == [ReportCounts(key: "A1001", ratings: 19, good: 8, basic: 2, badValid: 3, badMistaken: 1, badMalicious: 1,
                                       badUnverified: 4, unrated: 6, followedUp: 2)])
    }

    @Test func linesComeInByteOrderOfTheirKey() {
        let keys = ReportFolding.fold([Self.cell("窗口", code: 1, n: 1), Self.cell("b", code: 1, n: 1), Self.cell("", code: 1, n: 1),
                                       Self.cell("B", code: 1, n: 1), Self.cell("2026-11-02", code: 1, n: 1)]).map(\.key)
        #expect(keys == ["", "2026-11-02", "B", "b", "窗口"])
    }
}

import Foundation
import PingjiaCore
import Testing
@testable import PingjiaRoster

@Suite("Roster CSV: files that are accepted")
struct RosterAcceptedTests {
    @Test func hallExportWithChineseHeaders() throws {
        let roster = try accepted(fixture("hall-export.csv"), file: "hall-export.csv")
        #expect(roster.staff == [
            Staff(id: "A1023", name: "张三", windowId: "3", photo: "A1023.png",
                  matters: ["11000000000000000X4440111700001", "11000000000000000X4440111700002"]),
            Staff(id: "A1024", name: "李四", windowId: "3", photo: nil,
                  matters: ["11000000000000000X4440111700003", "11000000000000000X4440111700004"]),
            Staff(id: "B2001", name: "王五", windowId: "5", photo: nil, matters: ["M1", "M2"]),
            Staff(id: "C3001", name: "赵\"小\"六", windowId: "6", photo: "c3001.jpg", matters: []),
        ])
        #expect(roster.windows == [
            ServiceWindow(id: "3", name: "综合受理3号窗口, 东厅"),
            ServiceWindow(id: "5", name: "窗口 5"),
            ServiceWindow(id: "6", name: "不动产登记, 二楼"),
        ])
        #expect(roster.ignoredColumns == ["性别", "备注"])
    }

    @Test func demoRosterOfTheRepository() throws {
        let demo = rosterFixtures.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("demo/roster.csv")
        let roster = try accepted(Data(contentsOf: demo), file: "demo/roster.csv")
        #expect(roster.staff.map(\.id) == ["A1023", "A1024", "B2001"])
        #expect(roster.ignoredColumns.isEmpty)
    }

    @Test func englishHeadersInAnyCaseAndOrder() throws {
        let roster = try accepted("""
            Name,WINDOW_ID,Staff_ID,Matters,Photo,window_name
            张三,3,A1023,M1,a.png,受理窗口
            """)
        #expect(roster.staff == [Staff(id: "A1023", name: "张三", windowId: "3", photo: "a.png", matters: ["M1"])])
        #expect(roster.windows == [ServiceWindow(id: "3", name: "受理窗口")])
    }

    @Test(arguments: [
        "staff_id,name,window", "staffid,name,windowid", "工号,姓名,窗口", "工号,姓名,窗口号", "工号,姓名,window_id",
    ])
    func headerAliases(_ header: String) throws {
        let roster = try accepted(header + "\nA1,张三,7\n")
        #expect(roster.staff == [Staff(id: "A1", name: "张三", windowId: "7")])
    }

    @Test func excelBOMAndCRLF() throws {
        let text = "工号,姓名,窗口,窗口名称\r\nA1,张三,1,\"一号\r\n窗口\"\r\nA2,李四,2,\r\n"
        let roster = try accepted(Data([0xEF, 0xBB, 0xBF]) + Data(text.utf8))
        #expect(roster.staff.map(\.id) == ["A1", "A2"], "the BOM must not stick to the first header name")
        #expect(roster.staff.map(\.name) == ["张三", "李四"], "no stray \\r in the last field")
        #expect(roster.windows == [ServiceWindow(id: "1", name: "一号\r\n窗口"), ServiceWindow(id: "2", name: "窗口 2")])
    }

    @Test func excelBOMAndCRLFKeepLineNumbers() throws {
        let text = "工号,姓名,窗口\r\nA1,\"张\r\n三\",1\r\n\r\nA1,李四,2\r\n"
        #expect(try rejected(Data([0xEF, 0xBB, 0xBF]) + Data(text.utf8)) == [
            "roster.csv:5: duplicate 工号 'A1' (first on line 2)",
        ])
    }

    @Test func extraColumnsAreIgnoredAndListed() throws {
        let roster = try accepted("部门,工号,姓名,,窗口,职务\n受理科,A1,张三,x,1,科员\n")
        #expect(roster.staff == [Staff(id: "A1", name: "张三", windowId: "1")])
        #expect(roster.ignoredColumns == ["部门", "职务"], "an unnamed column is not worth listing")
    }

    @Test func mattersAreSplitOnEveryUsualSeparator() throws {
        let roster = try accepted("工号,姓名,窗口,事项\nA1,张三,1,M1;M2；M3|M4 ; ;M5;\n")
        #expect(roster.staff.first?.matters == ["M1", "M2", "M3", "M4", "M5"])
    }

    @Test func quotedFieldsMayHoldCommasQuotesAndNewlines() throws {
        let roster = try accepted(#"""
            工号,姓名,窗口,窗口名称
            A1,"张三, 组长",1,"综合
            受理"
            A2,"李""四""",2,
            """#)
        #expect(roster.staff.map(\.name) == ["张三, 组长", "李\"四\""])
        #expect(roster.windows.first == ServiceWindow(id: "1", name: "综合\n受理"))
    }

    @Test func rowsAfterAMultiLineFieldKeepTheirLineNumbers() throws {
        // Lines 2-4 are one record; the error on the next record must say line 5, not 3.
        #expect(try rejected("""
            工号,姓名,窗口,备注
            A1,张三,1,"第一行
            第二行
            第三行"
            A2,,2,
            """) == ["roster.csv:5: 姓名 (name) of A2 is empty"])
    }

    @Test func lineSeparatorsInsideACellAreNotLines() throws {
        // U+2028 (pasted from a web page) and a lone CR are text in a cell, not line breaks of the file.
        #expect(try rejected("工号,姓名,窗口,备注\nA1,张三,1,\"a\u{2028}b\rc\u{85}d\"\nA1,李四,2,\n") == [
            "roster.csv:3: duplicate 工号 'A1' (first on line 2)",
        ])
    }

    @Test func multiLineHeaderCellKeepsLineNumbers() throws {
        #expect(try rejected("工号,姓名,窗口,\"备\n注\"\nA1,张三,1,x\nA1,李四,2,y\n") == [
            "roster.csv:4: duplicate 工号 'A1' (first on line 3)",
        ])
    }

    @Test func blankLinesAreSkippedButCounted() throws {
        let text = "\n工号,姓名,窗口\n\nA1,张三,1\n   \n\nA2,李四,\n\n"
        // A leading blank line is not a header.
        #expect(try rejected(text).first?.hasPrefix("roster.csv:1: missing column") == true)
        let trimmed = String(text.dropFirst())
        #expect(try rejected(trimmed) == ["roster.csv:6: 窗口 (window) of A2 is empty"])
        #expect(try accepted("工号,姓名,窗口\n\nA1,张三,1\n\n\n").staff.count == 1)
    }

    @Test func windowNamesDefaultAndAnyExplicitNameWins() throws {
        let roster = try accepted("""
            工号,姓名,窗口,窗口名称
            A1,张三,2,
            A2,李四,2,社保窗口
            A3,王五,2,
            A4,赵六,10,
            """)
        #expect(roster.windows == [ServiceWindow(id: "10", name: "窗口 10"), ServiceWindow(id: "2", name: "社保窗口")])
        #expect(roster.staff.map(\.windowId) == ["2", "2", "2", "10"])
    }

    @Test func spacesAroundFieldsAreTrimmed() throws {
        let roster = try accepted(" 工号 , 姓名 ,窗口,照片\n  A1 ,\t张三 , 1 , a.png \n")
        #expect(roster.staff == [Staff(id: "A1", name: "张三", windowId: "1", photo: "a.png")])
    }

    @Test func noTrailingNewline() throws {
        #expect(try accepted("工号,姓名,窗口\nA1,张三,1").staff.count == 1)
    }
}

@Suite("Roster CSV: bad files name file:line and yield nothing")
struct RosterRejectedTests {
    @Test func missingRequiredColumnNamesItInBothLanguages() throws {
        #expect(try rejected("工号,姓名,部门\nA1,张三,x\n") == [
            "roster.csv:1: missing column 'window' (窗口); the header is: 工号,姓名,部门",
        ])
        #expect(try rejected("name,window\n张三,1\n") == [
            "roster.csv:1: missing column 'staff_id' (工号); the header is: name,window",
        ])
        #expect(try rejected("工号,窗口\nA1,1\n") == [
            "roster.csv:1: missing column 'name' (姓名); the header is: 工号,窗口",
        ])
    }

    @Test func everyMissingColumnIsListed() throws {
        let found = try rejected("编号,名字\n1,2\n")
        #expect(found.count == 3)
        #expect(found.allSatisfy { $0.hasPrefix("roster.csv:1: missing column") })
    }

    @Test func columnGivenTwice() throws {
        #expect(try rejected("工号,姓名,窗口,staff_id\nA1,张三,1,A1\n") == [
            "roster.csv:1: column 'staff_id' (工号) appears twice in the header",
        ])
    }

    @Test func duplicateStaffIdNamesBothLines() throws {
        #expect(try rejected("工号,姓名,窗口\nA1,张三,1\nA2,李四,2\nA1,王五,3\n") == [
            "roster.csv:4: duplicate 工号 'A1' (first on line 2)",
        ])
    }

    @Test func invalidUTF8ByteNamesItsLine() throws {
        let data = Data("工号,姓名,窗口\nA1,张三,1\nA2,李".utf8) + Data([0xFF]) + Data("四,2\nA3,王五,3\n".utf8)
        let found = try rejected(data)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("roster.csv:3: not valid UTF-8") == true)
    }

    @Test func gbkEncodedLineIsRejected() throws {
        // "李四" in GBK: what Excel writes on a Chinese Windows machine unless told "CSV UTF-8".
        let data = Data("工号,姓名,窗口\nA1,张三,1\nA2,".utf8) + Data([0xC0, 0xEE, 0xCB, 0xC4]) + Data(",2\n".utf8)
        let found = try rejected(data)
        #expect(found == ["roster.csv:3: not valid UTF-8 (save the file as \"CSV UTF-8\"; GBK exports must be converted first)"])
    }

    @Test func wholeGBKFileReportsEveryLineWithChinese() throws {
        // 工号,姓名,窗口 / A1,张三,1 in GBK.
        let header: [UInt8] = [0xB9, 0xA4, 0xBA, 0xC5, 0x2C, 0xD0, 0xD5, 0xC3, 0xFB, 0x2C, 0xB4, 0xB0, 0xBF, 0xDA, 0x0A]
        let row: [UInt8] = [0x41, 0x31, 0x2C, 0xD5, 0xC5, 0xC8, 0xFD, 0x2C, 0x31, 0x0A]
        let found = try rejected(Data(header + row + Array("A2,x,2\n".utf8)))
        #expect(found.map { $0.prefix(while: { $0 != " " }) } == ["roster.csv:1:", "roster.csv:2:"])
    }

    @Test func wrongFieldCount() throws {
        #expect(try rejected("工号,姓名,窗口\nA1,张三\nA2,李四,2,extra\n") == [
            "roster.csv:2: expected 3 fields like the header, found 2 (a missing or extra comma?)",
            "roster.csv:3: expected 3 fields like the header, found 4 (a missing or extra comma?)",
        ])
    }

    @Test func emptyRequiredFields() throws {
        #expect(try rejected("工号,姓名,窗口\n ,张三,1\nA2, ,2\nA3,王五,\n") == [
            "roster.csv:2: 工号 (staff_id) is empty",
            "roster.csv:3: 姓名 (name) of A2 is empty",
            "roster.csv:4: 窗口 (window) of A3 is empty",
        ])
    }

    @Test(arguments: ["A 1", "张三", "A/1", "A1?", String(repeating: "9", count: 65)])
    func invalidStaffIdCharacters(_ id: String) throws {
        let cell = id.contains(" ") ? "\"\(id)\"" : id
        #expect(try rejected("工号,姓名,窗口\n\(cell),张三,1\n") == [
            "roster.csv:2: 工号 '\(id)' must be 1-64 ASCII letters, digits, '.', '_' or '-'",
        ])
    }

    @Test func invalidWindowId() throws {
        #expect(try rejected("工号,姓名,窗口\nA1,张三,3号\n") == [
            "roster.csv:2: 窗口 '3号' must be 1-64 ASCII letters, digits, '.', '_' or '-'",
        ])
    }

    @Test(arguments: ["photos/a.png", "../a.png", "/etc/passwd", ".hidden.png", ".."])
    func photoMustBeAPlainFileName(_ photo: String) throws {
        #expect(try rejected("工号,姓名,窗口,照片\nA1,张三,1,\(photo)\n") == [
            "roster.csv:2: 照片 '\(photo)' must be a plain file name in the state directory's photos/ folder",
        ])
    }

    @Test func conflictingWindowNames() throws {
        #expect(try rejected("""
            工号,姓名,窗口,窗口名称
            A1,张三,3,综合受理
            A2,李四,3,
            A3,王五,3,不动产
            """) == ["roster.csv:4: window 3 is named '不动产' here but '综合受理' on line 2"])
    }

    @Test(arguments: [Data(), Data("\n\n  \r\n".utf8), Data([0xEF, 0xBB, 0xBF])])
    func emptyFile(_ data: Data) throws {
        #expect(try rejected(data) == [
            "roster.csv: the file is empty: it needs a header line and one line per staff member",
        ])
    }

    @Test(arguments: ["工号,姓名,窗口", "工号,姓名,窗口\n", "工号,姓名,窗口\r\n\r\n,,\n"])
    func headerOnly(_ text: String) throws {
        #expect(try rejected(text) == ["roster.csv: no staff rows after the header"])
    }

    @Test func severalProblemsAreAllReportedInLineOrder() throws {
        #expect(try rejected(fixture("several-problems.csv"), file: "Tests/Fixtures/roster/several-problems.csv") == [
            "Tests/Fixtures/roster/several-problems.csv:3: 姓名 (name) of A2 is empty",
            "Tests/Fixtures/roster/several-problems.csv:4: 工号 'A 3' must be 1-64 ASCII letters, digits, '.', '_' or '-'",
            "Tests/Fixtures/roster/several-problems.csv:5: duplicate 工号 'A1' (first on line 2)",
            "Tests/Fixtures/roster/several-problems.csv:6: expected 3 fields like the header, found 2 (a missing or extra comma?)",
            "Tests/Fixtures/roster/several-problems.csv:7: 窗口 '9/9' must be 1-64 ASCII letters, digits, '.', '_' or '-'",
        ])
    }

    @Test func unterminatedQuoteInTheLastColumnIsNotSwallowed() throws {
        // Without a check, the rest of the file becomes one name and A2, A3 silently vanish.
        let found = try rejected("""
            工号,窗口,姓名
            A1,1,"张三
            A2,2,李四
            A3,3,王五
            """)
        #expect(found == ["roster.csv:2: the quote (\") that opens a field here is never closed; close it, or remove it"])
    }

    @Test func unterminatedQuoteInTheMiddle() throws {
        let found = try rejected("工号,姓名,窗口\nA1,张三,1\nA2,\"李四,2\nA3,王五,3\n")
        #expect(found == ["roster.csv:3: the quote (\") that opens a field here is never closed; close it, or remove it"])
    }

    @Test func unterminatedQuoteInTheHeader() throws {
        let found = try rejected("工号,\"姓名,窗口\nA1,张三,1\n")
        #expect(found == ["roster.csv:1: the quote (\") that opens a field here is never closed; close it, or remove it"])
    }

    @Test func quoteInsideAnUnquotedFieldIsText() throws {
        // Only a quote at the start of a field opens a quoted field (RFC 4180, and CSV.swift).
        let roster = try accepted("工号,姓名,窗口\nA1,张\"三,1\n")
        #expect(roster.staff.first?.name == "张\"三")
    }
}

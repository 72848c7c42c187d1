import Foundation
import Testing
@testable import PingjiaCore

@Suite("NewRating from a scale")
struct NewRatingTests {
    static let five = Scale(
        name: "five", title: "五级评价",
        levels: (1...5).map { ScaleLevel(value: $0, label: "L\($0)", code: SatisfactionCode(rawValue: $0)!) },
        reasons: [RatingReason(code: "slow", label: "办理速度慢"), RatingReason(code: "attitude", label: "服务态度差")])
    static let three = Scale(
        name: "three", title: "三级评价",
        levels: [ScaleLevel(value: 1, label: "满意", code: SatisfactionCode(rawValue: 2)!),
                 ScaleLevel(value: 2, label: "一般", code: SatisfactionCode(rawValue: 3)!),
                 ScaleLevel(value: 3, label: "不满意", code: SatisfactionCode(rawValue: 4)!)],
        reasons: [])
    static let time = DeviceTime(wallClock: "2026-11-24T10:44:00.123+08:00", monotonicNs: 42)

    @Test func takesCodeFromTheScaleAndTimeFromTheClock() throws {
        let id = UUID()
        let rating = try NewRating(scale: Self.three, level: 3, reasons: [], comment: "慢",
                                   staffId: "A1023", windowId: "3", matterCode: "M1", caseNo: "C1",
                                   channel: .touch, at: Self.time, flags: [.test], id: id)
        #expect(rating.scale == "three")
        #expect(rating.level == 3)
        #expect(rating.code?.rawValue == 4, "three's 不满意 is GB/T 4, not 3")
        #expect(rating.ratedAt == Self.time.wallClock)
        #expect(rating.monotonicNs == 42)
        #expect(rating.id == id)
        #expect(rating.flags == [.test])
        #expect(rating.comment == "慢")
        #expect(rating.caseNo == "C1")
    }

    @Test func keepsReasonsInTheOrderGiven() throws {
        let rating = try NewRating(scale: Self.five, level: 5, reasons: ["attitude", "slow"],
                                   staffId: "A1", windowId: nil, channel: .qr, at: Self.time)
        #expect(rating.reasons == ["attitude", "slow"])
    }

    @Test(arguments: [0, 6, -1, 42])
    func unknownLevelListsTheValidOnes(_ level: Int) {
        let error = #expect(throws: RatingError.self) {
            try NewRating(scale: Self.five, level: level, staffId: "A1", windowId: nil, channel: .keypad, at: Self.time)
        }
        #expect(error == .unknownLevel(level, scale: "five", known: [1, 2, 3, 4, 5]))
        #expect(error?.description == "level \(level) is not on scale 'five': use one of 1, 2, 3, 4, 5")
    }

    @Test func levelFourIsNotOnAThreeLevelScale() {
        let error = #expect(throws: RatingError.self) {
            try NewRating(scale: Self.three, level: 4, staffId: "A1", windowId: nil, channel: .keypad, at: Self.time)
        }
        #expect(error?.description == "level 4 is not on scale 'three': use one of 1, 2, 3")
    }

    @Test func unknownReasonListsTheValidOnes() {
        let error = #expect(throws: RatingError.self) {
            try NewRating(scale: Self.five, level: 4, reasons: ["slow", "rude"],
                          staffId: "A1", windowId: nil, channel: .keypad, at: Self.time)
        }
        #expect(error == .unknownReason("rude", scale: "five", known: ["slow", "attitude"]))
        #expect(error?.description == "reason 'rude' is not offered by scale 'five': use one of slow, attitude")
    }
}

@Suite("SatisfactionCode")
struct SatisfactionCodeTests {
    @Test(arguments: [Int.min, -1, 0, 6, 7, Int.max])
    func outsideOneToFiveIsRejected(_ raw: Int) {
        #expect(SatisfactionCode(rawValue: raw) == nil)
    }

    @Test(arguments: [(1, false, "非常满意"), (2, false, "满意"), (3, false, "基本满意"), (4, true, "不满意"), (5, true, "非常不满意")])
    func codesAndTheirMeaning(_ raw: Int, _ bad: Bool, _ label: String) throws {
        let code = try #require(SatisfactionCode(rawValue: raw))
        #expect(code.isBad == bad)
        #expect(code.standardLabel == label)
        #expect(code.description == "\(raw) \(label)")
        #expect(ScaleLevel(value: 1, label: "x", code: code).isBad == bad)
    }

    @Test func lowerIsBetter() throws {
        let best = try #require(SatisfactionCode(rawValue: 1))
        let worst = try #require(SatisfactionCode(rawValue: 5))
        #expect(best < worst)
    }
}

@Suite("Identifier rules")
struct IdentifierTests {
    @Test(arguments: ["A1023", "3", "pj-0123456789ab", "a.b_c-D", String(repeating: "x", count: 64), "..", "-"])
    func validIDs(_ text: String) {
        #expect(Identifier.isValidID(text))
    }

    @Test(arguments: ["", String(repeating: "x", count: 65), "张三", "A 1", "a/b", "a\\b", "a,b", "a\n", "é", "a:b", "a?b", "a#b", "a%20"])
    func invalidIDs(_ text: String) {
        #expect(!Identifier.isValidID(text))
    }

    @Test(arguments: ["five", "three", "suspect-burst", "a", "0", String(repeating: "a", count: 32)])
    func validSlugs(_ text: String) {
        #expect(Identifier.isSlug(text))
    }

    @Test(arguments: ["", String(repeating: "a", count: 33), "Five", "a_b", "a.b", "a b", "a/b", "五级", "ﬁve"])
    func invalidSlugs(_ text: String) {
        #expect(!Identifier.isSlug(text))
    }
}

@Suite("DeviceTime")
struct DeviceTimeTests {
    /// 2026-11-24T02:44:00.123Z, built from integer milliseconds as a clock would hand it over.
    static let instant = Date(timeIntervalSince1970: 1_795_488_240.123)

    /// Without a zone, the C library's local time: the same text as Foundation's current zone,
    /// for instants around the millisecond, day and 1970 edges.
    @Test func theSystemsLocalTimeMatchesTheCurrentTimeZone() {
        for seconds in [Self.instant.timeIntervalSince1970, 1_798_761_599.9996, -0.5, 0, 1_700_000_000.007] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(DeviceTime.format(date) == DeviceTime.format(date, timeZone: .current), "\(seconds)")
        }
    }

    @Test func shanghaiHasExplicitPlusEight() throws {
        let zone = try #require(TimeZone(identifier: "Asia/Shanghai"))
        #expect(DeviceTime.format(Self.instant, timeZone: zone) == "2026-11-24T10:44:00.123+08:00")
    }

    @Test func utcIsWrittenAsAnOffsetNotZ() throws {
        let zone = try #require(TimeZone(identifier: "UTC"))
        #expect(DeviceTime.format(Self.instant, timeZone: zone) == "2026-11-24T02:44:00.123+00:00")
    }

    @Test func negativeOffsetWithMinutes() throws {
        // St. John's is UTC-3:30 in November: sign and minutes both matter.
        let zone = try #require(TimeZone(identifier: "America/St_Johns"))
        #expect(DeviceTime.format(Self.instant, timeZone: zone) == "2026-11-23T23:14:00.123-03:30")
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        #expect(DeviceTime.format(Self.instant, timeZone: newYork) == "2026-11-23T21:44:00.123-05:00")
    }

    @Test func fixedOffsetZoneAndPadding() throws {
        let zone = try #require(TimeZone(secondsFromGMT: 9 * 3600 + 45 * 60))
        let date = Date(timeIntervalSince1970: 1_767_225_600.007)   // 2026-01-01T00:00:00.007Z
        #expect(DeviceTime.format(date, timeZone: zone) == "2026-01-01T09:45:00.007+09:45")
    }

    @Test(arguments: [0, 1, 7, 99, 123, 500, 998, 999])
    func everyMillisecondSurvivesFormatting(_ millis: Int) throws {
        // Whole milliseconds must never come out one lower from floating-point residue.
        let zone = try #require(TimeZone(identifier: "UTC"))
        let date = Date(timeIntervalSince1970: 1_795_488_240 + Double(millis) / 1000)
        let suffix = String(format: ".%03d+00:00", millis)
        #expect(DeviceTime.format(date, timeZone: zone) == "2026-11-24T02:44:00" + suffix)
    }

    @Test func lastMillisecondOfTheYearDoesNotRollOver() throws {
        let zone = try #require(TimeZone(identifier: "UTC"))
        let date = Date(timeIntervalSince1970: 1_798_761_599.9996)   // 2026-12-31T23:59:59.9996Z
        #expect(DeviceTime.format(date, timeZone: zone) == "2026-12-31T23:59:59.999+00:00")
    }

    @Test func instantBefore1970KeepsAPositiveMillisecondPart() throws {
        let zone = try #require(TimeZone(identifier: "UTC"))
        #expect(DeviceTime.format(Date(timeIntervalSince1970: -0.5), timeZone: zone) == "1969-12-31T23:59:59.500+00:00")
    }

    @Test func systemClockFormatsAndAdvances() {
        let clock = SystemDeviceClock()
        let a = clock.now()
        let b = clock.now()
        #expect(b.monotonicNs >= a.monotonicNs)
        #expect(a.wallClock.count == "2026-11-24T10:44:00.123+08:00".count)
    }
}

@Suite("URLTemplate")
struct URLTemplateTests {
    @Test func defaultIsAcceptedByItsOwnRules() throws {
        let template = try URLTemplate(URLTemplate.default.template)
        #expect(template == URLTemplate.default)
        #expect(template.description == "https://pingjia.invalid/r/{deviceId}/{staffId}")
    }

    @Test(arguments: ["https://hub.example/r/{deviceId}/{staffId}", "http://10.0.0.2:8080/r/{windowId}",
                      "https://hub.example/static", "https://hub.example/{deviceId}{staffId}{windowId}"])
    func acceptedTemplates(_ text: String) throws {
        #expect(try URLTemplate(text).template == text)
    }

    @Test func unknownPlaceholderNamesTheValidOnes() {
        let error = #expect(throws: RatingError.self) { try URLTemplate("https://hub.example/r/{device}/{staffId}") }
        #expect(error?.description == "URL template: unknown placeholder {device}: use {deviceId}, {staffId}, {windowId}")
    }

    @Test func unclosedBrace() {
        let error = #expect(throws: RatingError.self) { try URLTemplate("https://hub.example/r/{deviceId") }
        #expect(error?.description.contains("'{' without a closing '}'") == true)
    }

    @Test(arguments: ["ftp://hub.example/{staffId}", "hub.example/{staffId}", "javascript:alert(1)", "", "HTTPS//x"])
    func nonHTTPSchemesAreRejected(_ text: String) {
        let error = #expect(throws: RatingError.self) { try URLTemplate(text) }
        #expect(error?.description.contains("must start with https://") == true)
    }

    @Test func expandSubstitutesAllThreePlaceholders() throws {
        let template = try URLTemplate("https://hub.example/{deviceId}/w/{windowId}/s/{staffId}?again={staffId}")
        #expect(template.expand(deviceId: "pj-0123456789ab", staffId: "A1023", windowId: "3")
            == "https://hub.example/pj-0123456789ab/w/3/s/A1023?again=A1023")
        #expect(URLTemplate.default.expand(deviceId: "pj-1", staffId: "A1", windowId: "9")
            == "https://pingjia.invalid/r/pj-1/A1")
    }
}

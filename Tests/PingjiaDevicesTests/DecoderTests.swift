import Foundation
@testable import PingjiaDevices
import Testing

func profile(_ name: String) throws -> DeviceProfile {
    let set = ProfileSet.load(directories: [repoRoot.appendingPathComponent("devices").path])
    return try #require(set.profiles.first { $0.name == name })
}

struct DecoderTests {
    @Test func keyboardCountsAKeyWhenItGoesDownNotWhileHeld() throws {
        var decoder = KeyboardDecoder(profile: try profile("acme-pj5"))
        #expect(decoder.decode([0, 0, 0x1e, 0, 0, 0, 0, 0]).inputs.map(\.meaning) == [.level(1)])
        #expect(decoder.decode([0, 0, 0x1e, 0, 0, 0, 0, 0]).inputs.isEmpty, "still held")
        #expect(decoder.decode([0, 0, 0x1e, 0x22, 0, 0, 0, 0]).inputs.map(\.meaning) == [.level(5)])
        #expect(decoder.decode([0, 0, 0, 0, 0, 0, 0, 0]).inputs.isEmpty)
        #expect(decoder.decode([0, 0, 0x28, 0, 0, 0, 0, 0]).inputs.map(\.meaning) == [.action(.call)])
    }

    @Test func keyboardIgnoresShortRolloverAndUnknownReportsWithAReason() throws {
        var decoder = KeyboardDecoder(profile: try profile("acme-pj5"))
        #expect(decoder.decode([0, 0, 0x1e]).problems.first?.contains("short report") == true)
        #expect(decoder.decode([0, 0, 1, 1, 1, 1, 1, 1]).problems.first?.contains("rollover") == true)
        let unknown = decoder.decode([0, 0, 0x04, 0, 0, 0, 0, 0])
        #expect(unknown.inputs.isEmpty && unknown.problems.first?.contains("0x04") == true)
    }

    @Test func reportDecoderReadsBytesBitsAndReportIds() throws {
        var decoder = ReportDecoder(profile: try profile("acme-pj3r"))
        #expect(decoder.decode([1, 2, 0, 0]).inputs.map(\.meaning) == [.level(2)])
        #expect(decoder.decode([1, 0, 0, 0]).inputs.isEmpty)
        #expect(decoder.decode([1, 0, 1, 0]).inputs.map(\.meaning) == [.action(.call)])
        #expect(decoder.decode([2, 1, 0, 0]).problems.first?.contains("id 0x02") == true)
        #expect(decoder.decode([1, 1]).problems.first?.contains("short report") == true)
    }

    @Test func frameDecoderJoinsSplitFramesAndReadsReasons() throws {
        var decoder = FrameDecoder(profile: try profile("acme-pt10"))
        #expect(decoder.decode(Array("\u{02}RATE|5|slow,".utf8)).inputs.isEmpty)
        let done = decoder.decode(Array("bribe\u{03}\u{02}CALL\u{03}".utf8))
        #expect(done.inputs.map(\.meaning) == [.level(5), .action(.call)])
        #expect(done.inputs.first?.reasons == ["slow", "bribe"])
        let noise = decoder.decode(Array("xx\u{02}RATE|x|\u{03}".utf8))
        #expect(noise.inputs.isEmpty && noise.problems.count == 2, "\(noise.problems)")
        #expect(decoder.decode(Array("\u{02}RATE|1|\u{03}".utf8)).inputs.first?.reasons == [])
    }

    @Test func templatesFillPlaceholders() throws {
        #expect(renderTemplate("SHOW|{staffName}|{levels}|{reasons}", values: ["staffName": "张三", "levels": "1:好"]) == "SHOW|张三|1:好|")
    }
}

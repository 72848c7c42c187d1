import Foundation
import PingjiaConfig
@testable import PingjiaDevices
import PingjiaTOML
import Testing

let repoRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A directory of its own holding `files` (name → text), removed after `body`.
func withProfiles<T>(_ files: [String: String], _ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("PingjiaDevicesTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for (name, text) in files {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    return try body(dir)
}

let goodKeyboard = """
    vendor = "T"
    model = "K"
    family = "hid-keyboard"

    [match]
    vid = 0x1111
    pid = 0x0001
    interface = 0

    [keys]
    0x1e = 1
    0x1f = 2

    [actions]
    call = 0x28

    [feedback]
    thanks = "07"
    """

struct ProfileLoaderTests {
    @Test func shippedProfilesAllLoadAndCheckAgainstTheShippedScales() throws {
        let set = ProfileSet.load(directories: [repoRoot.appendingPathComponent("devices").path])
        #expect(set.problems.isEmpty, "\(set.problems)")
        #expect(Set(set.profiles.map(\.name)) == ["acme-pj5", "acme-pj3r", "acme-pt10"])
        var checked = set
        checked.checkScales(ScaleCatalog(directories: [repoRoot.appendingPathComponent("scales").path]), defaultScale: "five")
        #expect(checked.problems.isEmpty, "\(checked.problems)")
        #expect(Set(set.profiles.map(\.family)) == Set(DeviceFamily.allCases))
    }

    @Test func aGoodKeyboardProfileReadsKeysActionsAndFeedback() throws {
        try withProfiles(["keypads/t-k.toml": goodKeyboard]) { dir in
            let set = ProfileSet.load(directories: [dir.path])
            let profile = try #require(set.profiles.first)
            #expect(set.problems.isEmpty)
            #expect(profile.name == "t-k")
            #expect(profile.match == DeviceMatch(vendorId: 0x1111, productId: 1, interface: 0))
            #expect(profile.usageKeys[0x1e] == .level(1))
            #expect(profile.usageKeys[0x28] == .action(.call))
            #expect(profile.feedback["thanks"] == [0x07])
        }
    }

    /// Acceptance 4 at the loader: each kind of mistake is rejected with its file and line, and
    /// the good profile next to them still loads.
    @Test(arguments: [
        ("unknown key", goodKeyboard.replacingOccurrences(of: "interface = 0", with: "interface = 0\nspeed = 12"), 9, "unknown key 'speed'"),
        ("wrong type", goodKeyboard.replacingOccurrences(of: "pid = 0x0001", with: "pid = \"0x0001\""), 7, "'pid' must be an integer"),
        ("bad hex", goodKeyboard.replacingOccurrences(of: "thanks = \"07\"", with: "thanks = \"0g 01\""), 18, "not hex bytes"),
        ("bad key code", goodKeyboard.replacingOccurrences(of: "0x1f = 2", with: "f1 = 2"), 12, "must be a HID usage code"),
        ("unknown family", goodKeyboard.replacingOccurrences(of: "hid-keyboard", with: "hid-mouse"), 3, "family 'hid-mouse'"),
        ("level out of range", goodKeyboard.replacingOccurrences(of: "0x1f = 2", with: "0x1f = 12"), 12, "level 12 must be 1…9"),
        ("missing match", goodKeyboard.replacingOccurrences(of: "vid = 0x1111\n", with: ""), 5, "missing required key 'vid'"),
        ("not TOML", goodKeyboard.replacingOccurrences(of: "[keys]", with: "[keys"), 10, "not valid TOML"),
        ("IN endpoint as OUT", goodKeyboard.replacingOccurrences(of: "thanks = \"07\"", with: "via = \"interrupt-out\"\nendpoint = 0x81\nthanks = \"07\""), 19, "is an IN endpoint"),
    ])
    func badProfileIsRejectedWithFileAndLine(kind: String, text: String, line: Int, message: String) throws {
        let good = goodKeyboard.replacingOccurrences(of: "pid = 0x0001", with: "pid = 0x0002")
        try withProfiles(["keypads/bad.toml": text, "keypads/good.toml": good]) { dir in
            let set = ProfileSet.load(directories: [dir.path])
            #expect(set.profiles.map(\.name) == ["good"], "\(kind): the good profile must still load")
            let problem = try #require(set.problems.first { $0.message.contains(message) }, "\(kind): \(set.problems)")
            #expect(problem.file.hasSuffix("keypads/bad.toml"))
            #expect(problem.line == line, "\(kind): \(problem)")
        }
    }

    @Test func twoProfilesForOneDeviceInOneFolderRejectTheSecond() throws {
        try withProfiles(["keypads/a.toml": goodKeyboard, "keypads/b.toml": goodKeyboard]) { dir in
            let set = ProfileSet.load(directories: [dir.path])
            #expect(set.profiles.map(\.name) == ["a"])
            let problem = try #require(set.problems.first)
            #expect(problem.file.hasSuffix("b.toml") && problem.line == 5)
            #expect(problem.message.contains("same [match]") && problem.message.contains("a.toml"))
        }
    }

    @Test func aLaterFolderReplacesTheSameMatch() throws {
        try withProfiles(["shipped/k.toml": goodKeyboard,
                          "etc/k2.toml": goodKeyboard.replacingOccurrences(of: "0x1e = 1", with: "0x1e = 3")]) { dir in
            let set = ProfileSet.load(directories: [dir.appendingPathComponent("shipped").path, dir.appendingPathComponent("etc").path])
            #expect(set.problems.isEmpty)
            #expect(set.profiles.map(\.name) == ["k2"])
            #expect(set.profiles.first?.usageKeys[0x1e] == .level(3))
        }
    }

    @Test func hidReportAndSerialFrameProblemsNameTheirLines() throws {
        let report = """
            vendor = "T"
            model = "R"
            family = "hid-report"

            [match]
            vid = 0x1111
            pid = 0x0003
            interface = 0

            [report]
            length = 4

            [[key]]
            byte = 9
            value = 1
            level = 1

            [[key]]
            byte = 1
            bit = 8
            action = "dance"
            """
        let serial = """
            vendor = "T"
            model = "S"
            family = "serial-frame"

            [match]
            vid = 0x1111
            pid = 0x0004
            interface = 0

            [frame]
            in_endpoint = 0x81
            out_endpoint = 0x02
            start = "02"
            end = "zz"

            [commands]
            prompt = "SHOW|{staff}"

            [responses]
            selection = "RATE"
            """
        try withProfiles(["r.toml": report, "s.toml": serial]) { dir in
            let set = ProfileSet.load(directories: [dir.path])
            #expect(set.profiles.isEmpty)
            let texts = set.problems.map(\.description)
            #expect(texts.contains { $0.hasSuffix("r.toml:14: byte 9 is outside the 4-byte report") }, "\(texts)")
            #expect(texts.contains { $0.hasSuffix("r.toml:20: bit 8 must be 0…7") }, "\(texts)")
            #expect(texts.contains { $0.contains("r.toml:21: action 'dance'") }, "\(texts)")
            #expect(texts.contains { $0.contains("s.toml:14: 'zz' is not hex bytes") }, "\(texts)")
            #expect(texts.contains { $0.contains("s.toml:17: unknown placeholder {staff}") }, "\(texts)")
            #expect(texts.contains { $0.contains("s.toml") && $0.contains("needs thanks") }, "\(texts)")
            #expect(texts.contains { $0.contains("s.toml:20: selection must contain {level}") }, "\(texts)")
        }
    }

    @Test func aLevelTheScaleDoesNotHaveIsRejected() throws {
        let text = goodKeyboard.replacingOccurrences(of: "family = \"hid-keyboard\"", with: "family = \"hid-keyboard\"\nscale = \"three\"")
            .replacingOccurrences(of: "0x1f = 2", with: "0x1f = 5")
        try withProfiles(["k.toml": text]) { dir in
            var set = ProfileSet.load(directories: [dir.path])
            set.checkScales(ScaleCatalog(directories: [repoRoot.appendingPathComponent("scales").path]), defaultScale: "five")
            #expect(set.profiles.isEmpty)
            #expect(set.problems.first?.line == 4)
            #expect(set.problems.first?.message.contains("level 5 is not on scale 'three'") == true)
        }
    }

    @Test func theMostSpecificMatchWins() throws {
        let bySerial = goodKeyboard.replacingOccurrences(of: "interface = 0", with: "interface = 0\nserial = \"SN9\"")
        let byPort = goodKeyboard.replacingOccurrences(of: "interface = 0", with: "interface = 0\nport = \"1-4\"")
        try withProfiles(["any.toml": goodKeyboard, "serial.toml": bySerial, "port.toml": byPort]) { dir in
            let set = ProfileSet.load(directories: [dir.path])
            #expect(set.problems.isEmpty, "\(set.problems)")
            func pick(_ serial: String?, _ port: String) -> String? {
                set.profile(vendorId: 0x1111, productId: 1, serial: serial, port: port, interfaces: [0])?.name
            }
            #expect(pick("SN9", "1-4") == "serial")
            #expect(pick(nil, "1-4") == "port")
            #expect(pick("X", "1-1") == "any")
            #expect(set.profile(vendorId: 0x1111, productId: 1, serial: nil, port: "1-1", interfaces: [1]) == nil)
        }
    }

    @Test func udevRulesGiveEachModelToThePingjiaGroup() throws {
        let set = ProfileSet.load(directories: [repoRoot.appendingPathComponent("devices").path])
        let rules = UdevRules.generate(set.profiles)
        let lines = rules.split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.contains("GROUP=\"pingjia\"") && $0.contains("TAG+=\"systemd\"") && $0.contains("MODE=\"0660\"") })
        #expect(lines.contains { $0.contains("ATTR{idVendor}==\"1a2b\", ATTR{idProduct}==\"0005\"") })
    }
}

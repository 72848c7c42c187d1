import Foundation
import Testing

/// Real libusb in the built `pingjia`/`pingjiad` against devices emulated by umockdev. One
/// emulated bus at a time: the suite is serialized, and each test has its own testbed.
@Suite(.serialized)
struct KeypadEmulatorTests {
    static let keyUp = "0000000000000000"

    /// `pingjia devices watch --json` for the emulated devices, started and waited on until
    /// `attached` devices are claimed.
    func watch(_ emulator: Emulator, attached: Int, extra: [String] = []) throws -> Child {
        let state = emulator.scratch.appendingPathComponent("state").path
        let child = try emulator.launch("pingjia", ["devices", "watch", "--json", "--state-dir", state] + extra)
        do {
            try child.out.wait(for: "attached", count: attached, timeout: 20)
        } catch {
            child.terminate()
            throw EmulatorError("\(error)\n--- stderr of pingjia\n\(child.err.all.joined(separator: "\n"))")
        }
        return child
    }

    @Test func listShowsEachDeviceWithItsProfileOrNone() throws {
        let unknown = EmulatedDevice(name: "mouse", kind: "hid-keyboard", vid: 0x046d, pid: 0xc077, port: "4")
        try withEmulator([.pj5(), .pj3r(), .pt10(), unknown]) { emulator in
            let child = try emulator.launch("pingjia", ["devices", "list", "--json", "--state-dir", emulator.scratch.path + "/state"])
            let status = child.exitStatus(timeout: 20)
            if status == nil { child.terminate() }
            #expect(status == 0, "\(child.err.all)")
            let text = child.out.all.joined(separator: "\n")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]], "\(text)")
            let byPort = Dictionary(uniqueKeysWithValues: rows.map { ($0["port"] as? String ?? "", $0) })
            #expect(byPort["1-1"]?["profile"] as? String == "acme-pj5")
            #expect(byPort["1-2"]?["profile"] as? String == "acme-pj3r")
            #expect(byPort["1-3"]?["profile"] as? String == "acme-pt10")
            #expect(byPort["1-4"] != nil && byPort["1-4"]?["profile"] as? String == nil)
            #expect(byPort["1-1"]?["vid"] as? String == "1a2b" && byPort["1-1"]?["pid"] as? String == "0005")
            #expect(byPort["1-1"]?["bus"] as? Int == 1)
        }
    }

    @Test func kernelDriverIsDetachedWhileDrivenAndGivenBackOnExit() throws {
        try withEmulator([.pj5()]) { emulator in
            let child = try watch(emulator, attached: 1)
            // The emulator's event log is read on its own thread: "attached" from pingjia can
            // arrive before the emulator's own "claim" line has been read.
            try emulator.events.wait(for: "claim")
            let order = emulator.events.objects.compactMap { $0["event"] as? String }.filter { ["detach", "claim"].contains($0) }
            #expect(order == ["detach", "claim"], "usbhid must be detached before the interface can be claimed")
            #expect(emulator.events.objects("attach").isEmpty)
            #expect(child.terminate() == 0)
            try emulator.events.wait(for: "release")
            try emulator.events.wait(for: "attach")
            let tail = emulator.events.objects.compactMap { $0["event"] as? String }.filter { ["release", "attach"].contains($0) }
            #expect(tail == ["release", "attach"])
        }
    }

    /// Acceptance 1: every shipped keypad profile, every key, one line per press with its level.
    /// Both keypads are plugged in at once and mapped independently.
    @Test func everyKeyOfEveryShippedKeypadIsReportedOnceWithItsLevel() throws {
        try withEmulator([.pj5(), .pj3r()]) { emulator in
            let child = try watch(emulator, attached: 2)
            defer { child.terminate() }
            // PJ-5: usage codes 0x1e…0x22 are levels 1…5; Enter is "call".
            let pj5: [(String, Int?, String?)] = [("1e", 1, nil), ("1f", 2, nil), ("20", 3, nil), ("21", 4, nil), ("22", 5, nil), ("28", nil, "call")]
            // PJ-3R: report 0x01, byte 1 = 1…3, byte 2 bit 0 = call.
            let pj3r: [(String, Int?, String?)] = [("01010000", 1, nil), ("01020000", 2, nil), ("01030000", 3, nil), ("01000100", nil, "call")]
            for (index, (code, _, _)) in pj5.enumerated() {
                emulator.press("pj5", "0000\(code)0000000000", release: Self.keyUp)
                if index < pj3r.count { emulator.press("pj3r", pj3r[index].0, release: "01000000") }
            }
            let presses = try child.out.wait(for: "press", count: pj5.count + pj3r.count)
            Thread.sleep(forTimeInterval: 0.5)
            #expect(child.out.objects("press").count == pj5.count + pj3r.count, "a press was reported twice: \(child.out.all)")
            let fromPJ5 = presses.filter { $0["port"] as? String == "1-1" }
            let fromPJ3R = presses.filter { $0["port"] as? String == "1-2" }
            #expect(fromPJ5.map { $0["level"] as? Int } == pj5.map(\.1))
            #expect(fromPJ5.map { $0["action"] as? String } == pj5.map(\.2))
            #expect(fromPJ5.allSatisfy { $0["profile"] as? String == "acme-pj5" })
            #expect(fromPJ3R.map { $0["level"] as? Int } == pj3r.map(\.1))
            #expect(fromPJ3R.map { $0["action"] as? String } == pj3r.map(\.2))
            #expect(fromPJ3R.allSatisfy { $0["profile"] as? String == "acme-pj3r" && $0["scale"] as? String? != "five" })
            #expect(fromPJ5.first?["label"] as? String == "非常满意")
            #expect(fromPJ3R.first?["label"] as? String == "满意")
        }
    }

    @Test func twoUnitsOfOneModelAreMappedByTheirOwnPort() throws {
        try withEmulator([.pj5("left", port: "1"), .pj5("right", port: "2")]) { emulator in
            let child = try watch(emulator, attached: 2)
            defer { child.terminate() }
            emulator.press("left", "00001e0000000000", release: Self.keyUp)
            emulator.press("right", "0000220000000000", release: Self.keyUp)
            emulator.press("left", "0000200000000000", release: Self.keyUp)
            let presses = try child.out.wait(for: "press", count: 3)
            #expect(presses.filter { $0["port"] as? String == "1-1" }.map { $0["level"] as? Int } == [1, 3])
            #expect(presses.filter { $0["port"] as? String == "1-2" }.map { $0["level"] as? Int } == [5])
        }
    }

    /// Acceptance 1: a model the code has never seen works from a profile file alone.
    @Test func aNewModelNeedsOnlyAProfileFile() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        # A model no Swift code knows: other VID/PID, a 6-byte report, the key in byte 4.
        vendor = "Zeta"
        model = "R2 rating pad"
        family = "hid-report"
        scale = "three"

        [match]
        vid = 0x3f3f
        pid = 0x0042
        interface = 0

        [report]
        length = 6

        [[key]]
        byte = 4
        value = 0x10
        level = 1

        [[key]]
        byte = 4
        value = 0x20
        level = 2

        [[key]]
        byte = 4
        value = 0x40
        level = 3

        [[key]]
        byte = 5
        bit = 7
        action = "pause"
        """.write(to: dir.appendingPathComponent("zeta-r2.toml"), atomically: true, encoding: .utf8)
        let zeta = EmulatedDevice(name: "zeta", kind: "hid-vendor", vid: 0x3f3f, pid: 0x0042, port: "1", inSize: 6)
        try withEmulator([zeta]) { emulator in
            let child = try watch(emulator, attached: 1, extra: ["--devices-dir", dir.path])
            defer { child.terminate() }
            for report in ["000000004000", "000000000000", "000000001000", "000000000000", "000000002000", "000000000080"] {
                emulator.press("zeta", report)
            }
            let presses = try child.out.wait(for: "press", count: 4)
            #expect(presses.map { $0["level"] as? Int } == [3, 1, 2, nil])
            #expect(presses.last?["action"] as? String == "pause")
            #expect(presses.allSatisfy { $0["profile"] as? String == "zeta-r2" && $0["device"] as? String == "3f3f:0042" })
        }
    }

    @Test func malformedAndShortReportsAreLoggedAndIgnored() throws {
        try withEmulator([.pj5(), .pj3r()]) { emulator in
            let child = try watch(emulator, attached: 2)
            defer { child.terminate() }
            emulator.press("pj5", "0000")                          // short
            emulator.press("pj5", "0000390000000000")              // Caps Lock: not in the profile
            emulator.press("pj5", "0000010101010101")              // rollover error
            emulator.press("pj3r", "0901")                         // short
            emulator.press("pj3r", "09010000")                     // another report id
            emulator.press("pj3r", "01ee0000")                     // no key has this value
            emulator.press("pj5", "00001f0000000000", release: Self.keyUp)
            emulator.press("pj3r", "01030000", release: "01000000")
            let presses = try child.out.wait(for: "press", count: 2)
            let problems = try child.out.wait(for: "problem", count: 6)
            #expect(child.process.isRunning)
            // Two devices: their presses may interleave either way.
            #expect(presses.filter { $0["port"] as? String == "1-1" }.map { $0["level"] as? Int } == [2])
            #expect(presses.filter { $0["port"] as? String == "1-2" }.map { $0["level"] as? Int } == [3])
            let texts = problems.compactMap { $0["problem"] as? String }
            #expect(texts.contains { $0.contains("short report") && $0.contains("00 00") })
            #expect(texts.contains { $0.contains("0x39") })
            #expect(texts.contains { $0.contains("rollover") })
            #expect(texts.contains { $0.contains("id 0x09") })
            #expect(texts.contains { $0.contains("matches no key") })
        }
    }

    /// Acceptance 2: unplug and replug 20 times, a press each time: every press reported exactly
    /// once, the same process throughout, and no file descriptor left behind.
    @Test func unplugAndReplugTwentyTimesLosesAndRepeatsNothing() throws {
        try withEmulator([.pj5()]) { emulator in
            let child = try watch(emulator, attached: 1)
            defer { child.terminate() }
            let pid = child.pid
            Thread.sleep(forTimeInterval: 0.3)
            let descriptorsAtStart = child.openDescriptors
            var expected: [Int] = []
            for round in 1...20 {
                let level = (round - 1) % 5 + 1
                emulator.press("pj5", String(format: "0000%02x0000000000", 0x1d + level), release: Self.keyUp)
                expected.append(level)
                try child.out.wait(for: "press", count: round)
                // Unplug while the next read is pending (mid-read), then plug back in.
                emulator.send("unplug pj5")
                try child.out.wait(for: "detached", count: round)
                emulator.send("replug pj5")
                try child.out.wait(for: "attached", count: round + 1)
            }
            Thread.sleep(forTimeInterval: 0.5)
            let presses = child.out.objects("press")
            #expect(presses.map { $0["level"] as? Int } == expected)
            #expect(child.process.isRunning && child.pid == pid)
            #expect(child.openDescriptors == descriptorsAtStart,
                    "descriptors: \(descriptorsAtStart) after the first attach, \(child.openDescriptors) after 20 replugs")
            // Still driving the device after all that.
            emulator.press("pj5", "0000220000000000", release: Self.keyUp)
            let last = try child.out.wait(for: "press", count: 21)
            #expect(last.last?["level"] as? Int == 5)
        }
    }

    /// Acceptance 3: a keypad attached and nobody pressing: under 1% CPU over 10 s.
    @Test func idleWithAKeypadAttachedUsesUnderOnePercentCPU() throws {
        try withEmulator([.pj5()]) { emulator in
            let child = try watch(emulator, attached: 1)
            defer { child.terminate() }
            Thread.sleep(forTimeInterval: 1)
            let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
            let before = try child.cpuTicks
            let start = Date()
            Thread.sleep(forTimeInterval: 10)
            let used = Double(try child.cpuTicks - before) / ticksPerSecond
            let share = used / Date().timeIntervalSince(start)
            #expect(share < 0.01, "pingjia devices watch used \(String(format: "%.2f", share * 100))% CPU while idle")
            #expect(child.process.isRunning)
        }
    }

    @Test func terminalGetsThePromptAndReportsASelectionWithReasons() throws {
        try withEmulator([.pt10()]) { emulator in
            let child = try watch(emulator, attached: 1, extra: ["--staff-name", "张三"])
            defer { child.terminate() }
            let prompt = try emulator.events.wait(for: "out", ["device": "pt10", "kind": "bulk"])
            let frame = try #require((prompt.first?["data"] as? String).flatMap { Data(hexString: $0) })
            #expect(frame.first == 0x02 && frame.last == 0x03)
            let text = String(decoding: frame.dropFirst().dropLast(), as: UTF8.self)
            #expect(text.hasPrefix("SHOW|张三|"))
            #expect(text.contains("1:非常满意,2:满意"))
            #expect(text.contains("slow:"))
            // A selection with reasons, split across two transfers; then garbage; then "call".
            emulator.send("report pt10 " + Data("\u{02}RATE|4|slow,".utf8).hex)
            emulator.send("report pt10 " + Data("attitude\u{03}".utf8).hex)
            emulator.send("report pt10 " + Data("\u{02}NONSENSE\u{03}\u{02}CALL\u{03}".utf8).hex)
            let presses = try child.out.wait(for: "press", count: 2)
            #expect(presses.first?["level"] as? Int == 4)
            #expect(presses.first?["reasons"] as? [String] == ["slow", "attitude"])
            #expect(presses.last?["action"] as? String == "call")
            try child.out.wait(for: "problem")
        }
    }
}

extension Data {
    init?(hexString: String) {
        var bytes: [UInt8] = []
        var index = hexString.startIndex
        while index < hexString.endIndex {
            let next = hexString.index(index, offsetBy: 2)
            guard let byte = UInt8(hexString[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// The daemon: a press becomes a committed rating, and only then is the device thanked. In the
/// same serialized suite, so no two emulated buses ever run at once.
extension KeypadEmulatorTests {
    /// An initialised kiosk with the demo roster, and `config` as its pingjia.toml.
    func kiosk(in emulator: Emulator, config: String) throws -> URL {
        let state = emulator.scratch.appendingPathComponent("state")
        for arguments in [["init"], ["roster", "import", repoRoot.appendingPathComponent("demo/roster.csv").path]] {
            let child = try emulator.launch("pingjia", arguments + ["--state-dir", state.path])
            guard child.exitStatus(timeout: 30) == 0 else {
                throw EmulatorError("pingjia \(arguments) failed: \(child.err.all)")
            }
        }
        try config.write(to: state.appendingPathComponent("pingjia.toml"), atomically: true, encoding: .utf8)
        return state
    }

    func hexText(_ value: Any?) -> String {
        String(decoding: (value as? String).flatMap { Data(hexString: $0) } ?? Data(), as: UTF8.self)
    }

    func ratings(_ state: URL, sql: String = "SELECT seq, staff_id, channel, level, flags FROM rating ORDER BY seq") throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") else {
            throw EmulatorError("sqlite3 not found: run `make deps`")
        }
        process.arguments = ["-readonly", state.appendingPathComponent("pingjia.db").path, sql]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func aPressIsCommittedBeforeTheKeypadSaysThankYou() throws {
        try withEmulator([.pj3r(port: "2"), .pj5(port: "1"), .pt10(port: "3")]) { emulator in
            let state = try kiosk(in: emulator, config: """
                [[keypad]]
                port = "1-2"
                staff = "A1023"

                [[keypad]]
                port = "1-3"
                staff = "A1024"
                """)
            let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path])
            defer { daemon.terminate() }
            do { try check(emulator, daemon, state) } catch {
                throw EmulatorError("\(error)\n--- pingjiad log\n\(daemon.err.all.joined(separator: "\n"))")
            }
        }
    }

    func check(_ emulator: Emulator, _ daemon: Child, _ state: URL) throws {
        do {
            try daemon.err.waitForText("device attached", count: 3, timeout: 20)
            // The terminal is shown its staff member and the scale; the keypads get nothing yet.
            let prompt = try emulator.events.wait(for: "out", ["device": "pt10"])
            let shown = hexText(prompt.first?["data"])
            #expect(shown.hasPrefix("\u{02}SHOW|李四|") && shown.contains("1:非常满意"), "\(shown)")
            #expect(emulator.events.objects("out").filter { $0["device"] as? String != "pt10" }.isEmpty, "no feedback before any press")

            emulator.press("pj3r", "01030000", release: "01000000")
            let thanks = try emulator.events.wait(for: "out", ["device": "pj3r"])
            // The moment the keypad is thanked, the rating must already be in the store.
            let stored = try ratings(state)
            #expect(stored.count == 1, "\(stored)")
            #expect(thanks.first?["data"] as? String == "02010100")
            #expect(thanks.first?["kind"] as? String == "interrupt")
            #expect(stored.first?.contains("A1023") == true)

            // The unpaired PJ-5 still rates: kept, flagged unarmed, thanked through SET_REPORT.
            emulator.press("pj5", "00001f0000000000", release: "0000000000000000")
            let ledThanks = try emulator.events.wait(for: "out", ["device": "pj5"])
            #expect(ledThanks.first?["kind"] as? String == "control" && ledThanks.first?["data"] as? String == "07")
            let after = try ratings(state)
            #expect(after.count == 2)
            #expect(after.last?.contains("unarmed") == true, "\(after)")

            // A terminal selection with reasons: a touch rating for 李四, then the terminal's 谢谢.
            emulator.send("report pt10 " + Data("\u{02}RATE|4|slow,attitude\u{03}".utf8).hex)
            let frames = try emulator.events.wait(for: "out", ["device": "pt10"], count: 2)
            let rows = try ratings(state)
            #expect(rows.count == 3)
            #expect(rows.last?.hasPrefix("3|A1024|touch|4|") == true, "\(rows)")
            let reasons = try ratings(state, sql: "SELECT reasons FROM rating WHERE seq = 3")
            #expect(reasons == [#"["slow","attitude"]"#] || reasons == [#"["attitude","slow"]"#], "\(reasons)")
            let thanked = hexText(frames.last?["data"])
            #expect(thanked == "\u{02}THANKS|谢谢您的评价\u{03}")

            #expect(daemon.terminate() == 0)
            try emulator.events.wait(for: "attach", count: 2)
        }
    }
}

extension Lines {
    /// Waits until `count` lines contain `text` (for logs, which are not JSON).
    func waitForText(_ text: String, count: Int = 1, timeout: TimeInterval = 15) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while all.filter({ $0.contains(text) }).count < count {
            if Date() >= deadline {
                throw EmulatorError("no \(count)× '\(text)' within \(Int(timeout)) s; got:\n\(all.joined(separator: "\n"))")
            }
            usleep(50_000)
        }
    }
}

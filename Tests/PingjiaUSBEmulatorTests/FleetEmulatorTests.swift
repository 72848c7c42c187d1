import Foundation
import Testing

/// The heartbeat of a real pingjiad with an emulated keypad, received by a real pingjia-hub:
/// the keypad and the signed-in staff arrive at once, and unplugging the keypad at a staffed
/// window raises `keypad-missing`, which clears when it is plugged in again. In the serialized
/// emulator suite, so no two emulated buses run at once.
extension KeypadEmulatorTests {
    /// `sqlite3 -readonly` on the hub's database, one row per line.
    func hubQuery(_ db: URL, _ sql: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = ["-readonly", db.path, sql]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Polls until `check` holds for the latest heartbeat's window 3, or 30 s pass.
    func waitForWindow(_ db: URL, _ check: ([String: Any]) -> Bool) throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(30)
        var last: [String: Any]?
        while Date() < deadline {
            if let body = try hubQuery(db, "SELECT body FROM heartbeat").first,
               let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
               let windows = object["windows"] as? [[String: Any]] {
                last = windows.first { $0["window"] as? String == "3" }
                if let last, check(last) { return last }
            }
            usleep(100_000)
        }
        return last
    }

    /// Polls until an open keypad-missing alert exists (`open`) or none does, or 30 s pass.
    func waitForKeypadAlert(_ db: URL, open expected: Bool) throws -> [String] {
        let deadline = Date().addingTimeInterval(30)
        var lines: [String] = []
        while Date() < deadline {
            lines = try hubQuery(db, "SELECT kind FROM alert WHERE cleared_at IS NULL AND kind = 'keypad-missing'")
            if lines.isEmpty != expected { return lines }
            usleep(200_000)
        }
        return lines
    }

    @Test func theHeartbeatCarriesTheKeypadAndStaffAndAMissingKeypadRaisesAnAlert() throws {
        try withEmulator([.pj3r(port: "2")]) { emulator in
            let hubDB = emulator.scratch.appendingPathComponent("hub/hub.db")
            var hubEnvironment = ProcessInfo.processInfo.environment
            hubEnvironment["LD_PRELOAD"] = nil
            let hub = try Child(binary("pingjia-hub"), ["serve", "--db", hubDB.path, "--port", "0", "--alert-interval-seconds", "1"],
                                environment: hubEnvironment, directory: emulator.scratch)
            defer { hub.terminate() }
            try hub.err.waitForText("listening=127.0.0.1:", timeout: 30)
            let listening = hub.err.all.first { $0.contains("listening=127.0.0.1:") } ?? ""
            let hubPort = listening.split(separator: " ").first { $0.hasPrefix("listening=") }?.split(separator: ":").last ?? ""
            let added = try Child(binary("pingjia-hub"), ["devices", "add", "--hall", "大厅", "--name", "3号窗口", "--db", hubDB.path],
                                  environment: hubEnvironment, directory: emulator.scratch)
            #expect(added.exitStatus(timeout: 30) == 0, "\(added.err.all)")
            let code = try #require(added.out.all.first?.trimmingCharacters(in: .whitespaces))
            let web = try freeLoopbackPort()
            let state = try kiosk(in: emulator, config: """
                [sync]
                heartbeat_seconds = 10

                [[keypad]]
                port = "1-2"
                window = "3"

                [web]
                listen = "127.0.0.1:\(web)"
                """)
            let enroll = try emulator.launch("pingjia", ["enroll", "--hub", "http://127.0.0.1:\(hubPort)", "--code", code,
                                                         "--state-dir", state.path])
            #expect(enroll.exitStatus(timeout: 30) == 0, "\(enroll.err.all)")

            let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path])
            defer { daemon.terminate() }
            try daemon.err.waitForText("device attached", timeout: 20)
            try daemon.err.waitForText("local web listening", timeout: 20)
            let signin = try emulator.launch("pingjia", ["staff", "signin", "--window", "3", "--staff", "A1023", "--state-dir", state.path])
            #expect(signin.exitStatus(timeout: 30) == 0, "\(signin.err.all)")

            // A change (the sign-in) is sent at once, not after heartbeat_seconds.
            let staffed = try waitForWindow(hubDB) { $0["staffStatus"] as? String == "signed-in" }
            #expect(staffed?["staffId"] as? String == "A1023", "\(String(describing: staffed))")
            #expect(staffed?["keypadExpected"] as? Bool == true)
            let devices = staffed?["devices"] as? [[String: String]]
            #expect(devices == [["profile": "acme-pj3r", "port": "1-2"]], "\(String(describing: devices))")
            #expect(try waitForKeypadAlert(hubDB, open: false).isEmpty)

            emulator.send("unplug pj3r")
            let unplugged = try waitForWindow(hubDB) { ($0["devices"] as? [Any])?.isEmpty == true }
            #expect((unplugged?["devices"] as? [Any])?.isEmpty == true, "\(String(describing: unplugged))")
            #expect(try waitForKeypadAlert(hubDB, open: true) == ["keypad-missing"])

            emulator.send("replug pj3r")
            let back = try waitForWindow(hubDB) { ($0["devices"] as? [Any])?.count == 1 }
            #expect((back?["devices"] as? [Any])?.count == 1, "\(String(describing: back))")
            #expect(try waitForKeypadAlert(hubDB, open: false).isEmpty)
            #expect(try hubQuery(hubDB, "SELECT count(*) FROM alert WHERE kind = 'keypad-missing' AND cleared_at IS NOT NULL") == ["1"])
        }
    }
}

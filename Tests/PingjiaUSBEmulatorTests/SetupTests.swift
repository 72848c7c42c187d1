import Foundation
import Testing

/// The installer's whole visit against a local hub and an emulated keypad: `pingjia setup`
/// (flags, and answering its prompts in a pseudo-terminal), `pingjia pair`, `pingjia selftest`.
extension KeypadEmulatorTests {
    /// `pingjia-hub serve` on a free port with its phone page public there, and its URL.
    func startHub(_ emulator: Emulator, db: URL) throws -> (Child, String) {
        try FileManager.default.createDirectory(at: db.deletingLastPathComponent(), withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let hub = try Child(binary("pingjia-hub"), ["serve", "--db", db.path, "--port", "\(port)", "--public-url", "http://127.0.0.1:\(port)"],
                            environment: ProcessInfo.processInfo.environment, directory: emulator.scratch)
        try hub.err.waitForText("listening=127.0.0.1:", timeout: 30)
        return (hub, "http://127.0.0.1:\(port)")
    }

    /// A one-time enrollment code, as the hub operator makes it.
    func enrollmentCode(db: URL, in emulator: Emulator, name: String) throws -> String {
        let add = try Child(binary("pingjia-hub"), ["devices", "add", "--hall", "演示大厅", "--name", name, "--db", db.path],
                            environment: ProcessInfo.processInfo.environment, directory: emulator.scratch)
        guard add.exitStatus(timeout: 30) == 0, let code = add.out.all.first, code.count == 9 else {
            throw EmulatorError("pingjia-hub devices add failed: \(add.out.all) \(add.err.all)")
        }
        return code
    }

    /// Runs `pingjia arguments` in a pseudo-terminal (util-linux `script`), typing `input`; the
    /// exit status and everything the terminal showed.
    func inTerminal(_ arguments: [String], input: String, timeout: TimeInterval = 120) throws -> (Int32, String) {
        let command = ([try binary("pingjia")] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        env["PINGJIA_DATA_DIR"] = repoRoot.path + "/"
        env["TERM"] = "xterm"
        process.environment = env
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        let lines = Lines(stdout.fileHandleForReading)
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        // Kept open until the end: at EOF `script` would hang up the terminal under the program.
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? stdin.fileHandleForWriting.close()
        usleep(200_000)
        return (process.terminationStatus, lines.all.joined(separator: "\n"))
    }

    /// Acceptance 1: setup by flags and through its prompts, then selftest passes against a local
    /// hub with an emulated keypad paired.
    @Test func setupByFlagsAndByPromptsThenSelftestPasses() throws {
        try withEmulator([.pj5("k1", port: "1")]) { emulator in
            let db = emulator.scratch.appendingPathComponent("hub/hub.db")
            let (hub, url) = try startHub(emulator, db: db)
            defer { hub.terminate() }
            let roster = repoRoot.appendingPathComponent("demo/roster.csv").path

            let first = emulator.scratch.appendingPathComponent("one")
            let code = try enrollmentCode(db: db, in: emulator, name: "1号评价器")
            let setup = try emulator.launch("pingjia", ["setup", "--non-interactive", "--hall", "演示大厅", "--name", "1号评价器",
                                                       "--scale", "five", "--windows", "3,4,5", "--mode", "open",
                                                       "--hub", url, "--code", code, "--roster", roster, "--state-dir", first.path])
            #expect(setup.exitStatus(timeout: 60) == 0, "\(setup.out.all) \(setup.err.all)")
            #expect(setup.out.all.contains { $0.hasPrefix("✓ enrolled with \(url) as 演示大厅 / 1号评价器") }, "\(setup.out.all)")
            // The roster's photos come along from demo/photos, beside the CSV.
            #expect(setup.out.all.contains("✓ photos: 3 copied"), "\(setup.out.all)")
            // The hall had no roster on the hub: this one, photos included, is now the hall's.
            #expect(setup.out.all.contains { $0.hasPrefix("✓ roster sent to the hub: it is now the hall's roster") }, "\(setup.out.all)")
            #expect(FileManager.default.fileExists(atPath: first.appendingPathComponent("photos/A1023.png").path))
            let config = try String(contentsOf: first.appendingPathComponent("pingjia.toml"), encoding: .utf8)
            #expect(config.contains("hall = \"演示大厅\"") && config.contains("[[window]]\nid = \"5\"") && config.contains("\nmode = \"open\"\n"))

            let pair = try emulator.launch("pingjia", ["pair", "--window", "3", "--timeout", "30", "--state-dir", first.path])
            try pair.out.waitForText("press any key", timeout: 20)
            try emulator.events.wait(for: "claim")
            emulator.press("k1", "0000220000000000", release: Self.keyUp)
            #expect(pair.exitStatus(timeout: 20) == 0, "\(pair.out.all) \(pair.err.all)")

            let selftest = try emulator.launch("pingjia", ["selftest", "--state-dir", first.path])
            #expect(selftest.exitStatus(timeout: 60) == 0, "\(selftest.out.all) \(selftest.err.all)")
            let table = selftest.out.all
            for check in ["store", "disk space", "hub", "clock", "test rating", "keypad window 3", "phone link"] {
                #expect(table.contains { $0.hasPrefix("✓ \(check) ") }, "\(check): \(table)")
            }
            #expect(!table.joined().contains("\u{1B}["), "no colours into a pipe: \(table)")

            // With pingjiad running: the display page is fetched, the keypad is the daemon's.
            let port = try freeLoopbackPort()
            let configFile = first.appendingPathComponent("pingjia.toml")
            try String(contentsOf: configFile, encoding: .utf8)
                .replacingOccurrences(of: "listen = \"127.0.0.1:8080\"", with: "listen = \"127.0.0.1:\(port)\"")
                .write(to: configFile, atomically: true, encoding: .utf8)
            let daemon = try emulator.launch("pingjiad", ["--state-dir", first.path])
            do {
                try daemon.err.waitForText("local web listening", timeout: 20)
                try daemon.err.waitForText("device attached", timeout: 20)
                let running = try emulator.launch("pingjia", ["selftest", "--state-dir", first.path])
                #expect(running.exitStatus(timeout: 60) == 0, "\(running.out.all) \(running.err.all)")
                #expect(running.out.all.contains { $0.hasPrefix("✓ display page ") && $0.contains("/display/3 served") }, "\(running.out.all)")
                #expect(running.out.all.contains { $0.hasPrefix("✓ keypad window 3 ") && $0.contains("pingjiad drives it") }, "\(running.out.all)")
                #expect(daemon.terminate() == 0)
            } catch {
                daemon.terminate()
                throw EmulatorError("\(error)\n--- pingjiad log\n\(daemon.err.all.joined(separator: "\n"))")
            }

            // The same through the prompts, answered in a terminal; Enter takes a default.
            let second = emulator.scratch.appendingPathComponent("two")
            let code2 = try enrollmentCode(db: db, in: emulator, name: "2号评价器")
            let (status, screen) = try inTerminal(["setup", "--state-dir", second.path],
                                                  input: "演示大厅\n2号评价器\n\n3,4,5\n\n\(url)\n\(code2)\n\(roster)\n")
            #expect(status == 0, "\(screen)")
            #expect(screen.contains("大厅 / hall:") && screen.contains("评价等级 / scale (five, three) [five]:"), "\(screen)")
            #expect(screen.contains("✓ enrolled with \(url) as 演示大厅 / 2号评价器"), "\(screen)")
            #expect(screen.contains("✓ roster matches the hall's roster on the hub"), "\(screen)")
            let config2 = try String(contentsOf: second.appendingPathComponent("pingjia.toml"), encoding: .utf8)
            #expect(config2.contains("name = \"2号评价器\"") && config2.contains("\nmode = \"armed\"\n"))
            let selftest2 = try emulator.launch("pingjia", ["selftest", "--state-dir", second.path])
            #expect(selftest2.exitStatus(timeout: 60) == 0, "\(selftest2.out.all) \(selftest2.err.all)")
            #expect(selftest2.out.all.contains { $0.hasPrefix("✓ test rating ") }, "\(selftest2.out.all)")

            // On a terminal: colours in the table, a redrawn bar for the stickers.
            let (coloured, table2) = try inTerminal(["selftest", "--state-dir", second.path], input: "")
            #expect(coloured == 0 && table2.contains("\u{1B}[32m✓\u{1B}[0m store"), "\(table2)")
            let sheet = emulator.scratch.appendingPathComponent("two.pdf").path
            let (made, bar) = try inTerminal(["qr", "sheet", "--output", sheet, "--state-dir", second.path], input: "")
            #expect(made == 0 && bar.contains("\rstickers █") && bar.contains("3/3"), "\(bar)")

            // Selftest says what is wrong: the paired keypad unplugged is ✗ with what to do, exit 1.
            emulator.send("unplug k1")
            try emulator.events.wait(for: "unplugged", ["device": "k1"])
            let missing = try emulator.launch("pingjia", ["selftest", "--state-dir", first.path])
            #expect(missing.exitStatus(timeout: 60) == 1)
            #expect(missing.out.all.contains { $0.hasPrefix("✗ keypad window 3 ") && $0.contains("not plugged in") }, "\(missing.out.all)")
            #expect(missing.out.all.contains { $0.contains("→ plug it into port 1-1 again") }, "\(missing.out.all)")
        }
    }
}

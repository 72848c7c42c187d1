import Foundation
import Testing

/// Crash and fault campaigns against the built `pingjiad`, real libusb on an emulated PJ-3R, a
/// real `pingjia-hub` on loopback and real SQLite. `make test` runs a short form of each;
/// `make torture` runs them in full (PINGJIA_TORTURE_KILLS, PINGJIA_TORTURE_COPIES).
/// In the serialized emulator suite: one emulated bus at a time.
extension KeypadEmulatorTests {
    static let thanks = "02010100"
    static let errorSignal = "02020300"
    static let reportKeyUp = "01000000"

    static func campaignSize(_ name: String, _ short: Int) -> Int {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) }.map { max(1, $0) } ?? short
    }

    func count(_ emulator: Emulator, _ data: String) -> Int {
        emulator.events.objects("out", ["device": "pj3r", "data": data]).count
    }

    /// Levels of the presses the emulator actually handed to the host, in order.
    func delivered(_ emulator: Emulator) -> [String] {
        emulator.events.objects("in", ["device": "pj3r"]).compactMap { $0["data"] as? String }
            .filter { $0 != Self.reportKeyUp }.map { String($0.dropFirst(3).prefix(1)) }
    }

    /// `sqlite3` read-write (a copy without its -shm needs WAL recovery), one row per line.
    func sqlite(_ db: URL, _ sql: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = ["-batch", "-bail", db.path, sql]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw EmulatorError("sqlite3 \(db.path) '\(sql)': \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func isSubsequence(_ part: [String], of whole: [String]) -> Bool {
        var index = whole.startIndex
        for element in part {
            guard let found = whole[index...].firstIndex(of: element) else { return false }
            index = whole.index(after: found)
        }
        return true
    }

    /// kill -9 at random moments while the keypad presses and the daemon pushes to the hub. After
    /// each kill: every thanked press is in the store, nothing is there that was not pressed, at
    /// most the one press in flight per kill is missing (it was never thanked). At the end the hub
    /// holds exactly the device's chain and `pingjia outbox verify` passes.
    @Test func kill9AtRandomPointsLosesNoThankedPressAndTheHubEndsWithTheDevicesSet() throws {
        let rounds = Self.campaignSize("PINGJIA_TORTURE_KILLS", 5)
        try withEmulator([.pj3r(port: "2")]) { emulator in
            let hubDB = emulator.scratch.appendingPathComponent("hub/hub.db")
            var hubEnvironment = ProcessInfo.processInfo.environment
            hubEnvironment["LD_PRELOAD"] = nil
            let hub = try Child(binary("pingjia-hub"), ["serve", "--db", hubDB.path, "--port", "0"],
                                environment: hubEnvironment, directory: emulator.scratch)
            defer { hub.terminate() }
            try hub.err.waitForText("listening=127.0.0.1:", timeout: 30)
            let listening = hub.err.all.first { $0.contains("listening=127.0.0.1:") } ?? ""
            let port = listening.split(separator: " ").first { $0.hasPrefix("listening=") }?.split(separator: ":").last ?? ""
            let url = "http://127.0.0.1:\(port)"
            let added = try Child(binary("pingjia-hub"), ["devices", "add", "--hall", "大厅", "--name", "3号窗口", "--db", hubDB.path],
                                  environment: hubEnvironment, directory: emulator.scratch)
            #expect(added.exitStatus(timeout: 30) == 0, "\(added.err.all)")
            let code = try #require(added.out.all.first?.trimmingCharacters(in: .whitespaces))

            // Small batches, so the kills also land in the middle of a backlog being pushed.
            let state = try kiosk(in: emulator, config: """
                [sync]
                batch_records = 7

                [[keypad]]
                port = "1-2"
                staff = "A1023"
                """)
            let enroll = try emulator.launch("pingjia", ["enroll", "--hub", url, "--code", code, "--state-dir", state.path])
            #expect(enroll.exitStatus(timeout: 30) == 0, "\(enroll.err.all)")

            var pressed: [String] = []
            var killedInFlight = 0
            for round in 1...rounds {
                let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path])
                do {
                    try daemon.err.waitForText("device attached", timeout: 30)
                } catch {
                    daemon.terminate()
                    throw EmulatorError("round \(round): \(error)")
                }
                let killAt = Date().addingTimeInterval(Double.random(in: 0.02...1.2))
                while Date() < killAt {
                    let level = String(Int.random(in: 1...3))
                    let before = count(emulator, Self.thanks)
                    emulator.press("pj3r", "010\(level)0000", release: Self.reportKeyUp)
                    pressed.append(level)
                    // Wait for the thanks, but kill when the time comes, whatever is going on.
                    while count(emulator, Self.thanks) == before && Date() < killAt { usleep(500) }
                    if Int.random(in: 0..<4) == 0 {
                        // Now and then a pause: kills while the daemon only pushes, or idles.
                        usleep(UInt32(max(0, min(killAt.timeIntervalSinceNow, Double.random(in: 0...0.3))) * 1_000_000))
                    }
                }
                kill(daemon.pid, SIGKILL)
                _ = daemon.exitStatus(timeout: 10)
                if count(emulator, Self.thanks) < pressed.count { killedInFlight += 1 }
                usleep(100_000)   // the emulator's event reader catches up
                // A fresh device node for the next daemon: umockdev's ioctl channel of a client
                // killed mid-ioctl can break the next client's (the preload then aborts it). A
                // report queued but never delivered goes with the old node, like a press on an
                // unplugged keypad; `pressed` keeps it, `delivered` does not.
                emulator.send("unplug pj3r")
                try emulator.events.wait(for: "unplugged", count: round)
                emulator.send("replug pj3r")
                try emulator.events.wait(for: "plugged", count: round + 1)

                let thanked = count(emulator, Self.thanks)
                let stored = try sqlite(state.appendingPathComponent("pingjia.db"), "SELECT level FROM rating ORDER BY seq")
                let handed = delivered(emulator)
                #expect(count(emulator, Self.errorSignal) == 0, "round \(round): a press was refused")
                #expect(stored.count >= thanked, "round \(round): \(thanked) presses thanked, \(stored.count) stored")
                #expect(isSubsequence(handed, of: pressed), "round \(round): the keypad sent what was not pressed")
                #expect(isSubsequence(stored, of: handed), "round \(round): stored levels are not the pressed ones, in order, once each")
                #expect(handed.count - stored.count <= round, "round \(round): \(handed.count - stored.count) presses lost in \(round) kills")
            }

            // Started once more, the daemon delivers what is left; the hub ends with the device's set.
            let last = try emulator.launch("pingjiad", ["--state-dir", state.path])
            defer { last.terminate() }
            var pending = Int.max
            let deadline = Date().addingTimeInterval(120)
            while pending > 0 && Date() < deadline {
                let status = try emulator.launch("pingjia", ["sync", "status", "--json", "--state-dir", state.path])
                _ = status.exitStatus(timeout: 30)
                let text = status.out.all.joined(separator: "\n")
                let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
                pending = (object?["pending"] as? Int) ?? Int.max
                if pending > 0 { usleep(200_000) }
            }
            #expect(last.terminate() == 0)
            #expect(pending == 0, "still \(pending) ratings waiting for the hub")
            let chainSQL = "SELECT seq || ' ' || lower(hex(hash)) FROM %@ ORDER BY seq"
            let ours = try sqlite(state.appendingPathComponent("pingjia.db"), String(format: chainSQL, "rating"))
            let theirs = try sqlite(hubDB, String(format: chainSQL, "record"))
            #expect(ours == theirs, "the hub holds \(theirs.count) records, the device \(ours.count)")
            #expect(ours.count >= count(emulator, Self.thanks))
            let verify = try emulator.launch("pingjia", ["outbox", "verify", "--state-dir", state.path])
            #expect(verify.exitStatus(timeout: 30) == 0, "\(verify.err.all)\n\(verify.out.all)")
            print("torture kill -9: \(rounds) kills, \(pressed.count) presses, \(count(emulator, Self.thanks)) thanked, "
                  + "\(ours.count) stored and on the hub, \(killedInFlight) kills with a press in flight")
        }
    }

    /// The disk fills up under the daemon (an ENOSPC shim on the state directory): a press is
    /// refused with the keypad's error signal and a log line that says what to do, the ratings
    /// already stored are untouched, and presses are stored again once there is room.
    @Test func aFullDiskGivesTheErrorSignalKeepsWhatIsStoredAndRecovers() throws {
        let shim = try buildENOSPCShim()
        try withEmulator([.pj3r(port: "2")]) { emulator in
            let state = try kiosk(in: emulator, config: """
                [[keypad]]
                port = "1-2"
                staff = "A1023"
                """)
            let full = emulator.scratch.appendingPathComponent("disk-full")
            let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path], environment: [
                "LD_PRELOAD": "libumockdev-preload.so.0:\(shim)",
                "PINGJIA_ENOSPC_FLAG": full.path,
                "PINGJIA_ENOSPC_DIR": state.path,
            ])
            defer { daemon.terminate() }
            do {
                try daemon.err.waitForText("device attached", timeout: 30)
                for (index, level) in ["1", "2", "3"].enumerated() {
                    emulator.press("pj3r", "010\(level)0000", release: Self.reportKeyUp)
                    try emulator.events.wait(for: "out", ["device": "pj3r", "data": Self.thanks], count: index + 1)
                }
                let db = state.appendingPathComponent("pingjia.db")
                let chainSQL = "SELECT seq || ' ' || level || ' ' || lower(hex(hash)) FROM rating ORDER BY seq"
                let before = try sqlite(db, chainSQL)
                #expect(before.count == 3)

                #expect(FileManager.default.createFile(atPath: full.path, contents: nil))
                for attempt in 1...2 {
                    emulator.press("pj3r", "01010000", release: Self.reportKeyUp)
                    try emulator.events.wait(for: "out", ["device": "pj3r", "data": Self.errorSignal], count: attempt)
                }
                #expect(count(emulator, Self.thanks) == 3, "a press was thanked on a full disk")
                try daemon.err.waitForText("press NOT recorded", count: 2)
                let logged = daemon.err.all.first { $0.contains("press NOT recorded") } ?? ""
                #expect(logged.contains("is full") && logged.contains("df -h"), "\(logged)")
                #expect(try sqlite(db, chainSQL) == before, "stored ratings changed while the disk was full")

                try FileManager.default.removeItem(at: full)
                emulator.press("pj3r", "01020000", release: Self.reportKeyUp)
                try emulator.events.wait(for: "out", ["device": "pj3r", "data": Self.thanks], count: 4)
                let after = try sqlite(db, chainSQL)
                #expect(Array(after.prefix(3)) == before && after.count == 4, "\(after)")
                #expect(after.last?.hasPrefix("4 2 ") == true, "\(after)")
                #expect(daemon.terminate() == 0)
                #expect(try sqlite(db, "PRAGMA quick_check") == ["ok"])
                let verify = try emulator.launch("pingjia", ["outbox", "verify", "--state-dir", state.path])
                #expect(verify.exitStatus(timeout: 30) == 0, "\(verify.err.all)\n\(verify.out.all)")
            } catch {
                throw EmulatorError("\(error)\n--- pingjiad log\n\(daemon.err.all.suffix(40).joined(separator: "\n"))")
            }
        }
    }

    /// Power cut: the daemon is frozen (SIGSTOP) at random moments of a burst of presses and its
    /// store copied as it lies on disk at that instant (DB + WAL, mid-transaction or
    /// mid-checkpoint; the -shm is left behind, as a reboot loses it). Each copy must open through
    /// the store without being moved aside, pass quick_check, verify its chain, and hold every
    /// press thanked before the freeze.
    @Test func storeCopiesTakenMidWriteOpenPassQuickCheckAndVerify() throws {
        let copies = Self.campaignSize("PINGJIA_TORTURE_COPIES", 4)
        try withEmulator([.pj3r(port: "2")]) { emulator in
            let state = try kiosk(in: emulator, config: """
                [[keypad]]
                port = "1-2"
                staff = "A1023"
                """)
            let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path])
            defer { daemon.terminate() }
            try daemon.err.waitForText("device attached", timeout: 30)
            let stop = StopFlag()
            let sender = Thread {
                var index = 0
                while !stop.isSet {
                    emulator.press("pj3r", "010\(index % 3 + 1)0000", release: "01000000")
                    index += 1
                    if index % 50 == 0 { usleep(20_000) }   // keep the emulator's queue short
                }
            }
            sender.start()
            // Copies only once commits are under way, then at random moments of the burst.
            try emulator.events.wait(for: "out", ["device": "pj3r", "data": Self.thanks], count: 10, timeout: 30)
            var taken: [(URL, Int)] = []
            for index in 0..<copies {
                usleep(UInt32.random(in: 10_000...150_000))
                let thanked = count(emulator, Self.thanks)
                kill(daemon.pid, SIGSTOP)
                let copy = emulator.scratch.appendingPathComponent("copy-\(index)")
                try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
                for name in ["pingjia.db", "pingjia.db-wal", "device-id", "pingjia.toml"]
                where FileManager.default.fileExists(atPath: state.appendingPathComponent(name).path) {
                    try FileManager.default.copyItem(at: state.appendingPathComponent(name), to: copy.appendingPathComponent(name))
                }
                kill(daemon.pid, SIGCONT)
                taken.append((copy, thanked))
            }
            // The burst goes on until a press is thanked after the last copy: a daemon just
            // resumed from SIGSTOP may not have answered one yet when the loop ends.
            let deadline = Date().addingTimeInterval(30)
            while count(emulator, Self.thanks) <= taken.last?.1 ?? 0 && Date() < deadline { usleep(20_000) }
            stop.set()
            while sender.isExecuting { usleep(10_000) }
            #expect(daemon.terminate() == 0)
            #expect(count(emulator, Self.thanks) > taken.last?.1 ?? 0, "no press was thanked after the last copy")

            for (copy, thanked) in taken {
                let verify = try emulator.launch("pingjia", ["outbox", "verify", "--state-dir", copy.path])
                #expect(verify.exitStatus(timeout: 30) == 0, "\(copy.lastPathComponent): \(verify.err.all)\n\(verify.out.all)")
                let names = try FileManager.default.contentsOfDirectory(atPath: copy.path)
                #expect(!names.contains { $0.contains("damaged") }, "\(copy.lastPathComponent) was moved aside: \(names)")
                let db = copy.appendingPathComponent("pingjia.db")
                #expect(try sqlite(db, "PRAGMA quick_check") == ["ok"], "\(copy.lastPathComponent)")
                let stored = try sqlite(db, "SELECT count(*) FROM rating").first.flatMap { Int($0) } ?? -1
                #expect(stored >= thanked, "\(copy.lastPathComponent): \(thanked) thanked before the cut, \(stored) in the copy")
            }
            print("torture power cut: \(copies) copies, thanked at each cut \(taken.map(\.1))")
        }
    }

    /// Compiles Tests/Torture/enospc.c with gcc into a scratch directory; the path of the .so.
    func buildENOSPCShim() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc") else {
            throw EmulatorError("gcc not found: run `make deps` (it builds the disk-full shim)")
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pingjia-enospc-\(UUID().uuidString.prefix(8)).so").path
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-shared", "-fPIC", "-O2", "-o", output, repoRoot.appendingPathComponent("Tests/Torture/enospc.c").path, "-ldl"]
        try gcc.run()
        gcc.waitUntilExit()
        guard gcc.terminationStatus == 0 else { throw EmulatorError("gcc could not build Tests/Torture/enospc.c") }
        return output
    }
}

/// Set once by the test, read by a sender thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

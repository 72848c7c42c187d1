import Foundation
import Testing

/// `pingjia pair` against two emulated keypads of the same model, then pingjiad using the pairing.
/// In the serialized emulator suite, so no two emulated buses run at once.
extension KeypadEmulatorTests {
    /// Acceptance 2: the pressed keypad is bound to the asked window; after a replug into the same
    /// port the daemon still rates its presses at that window.
    @Test func thePressedKeypadIsBoundToTheAskedWindowAndKeepsItAfterAReplug() throws {
        try withEmulator([.pj5("k1", port: "1"), .pj5("k2", port: "2")]) { emulator in
            let port = try freeLoopbackPort()
            let state = try kiosk(in: emulator, config: """
                # The installer's own notes survive pairing.
                [[window]]
                id = "3"
                mode = "open"

                [web]
                listen = "127.0.0.1:\(port)"
                """)
            let pair = try emulator.launch("pingjia", ["pair", "--window", "3", "--timeout", "30", "--state-dir", state.path])
            do {
                try pair.out.waitForText("press any key on the keypad at window 3", timeout: 20)
                #expect(pair.out.all.contains { $0.contains("port 1-1") } && pair.out.all.contains { $0.contains("port 1-2") },
                        "both keypads are listed as unpaired: \(pair.out.all)")
                // Wait until pair has claimed the keypads, or the press would reach nobody.
                try emulator.events.wait(for: "claim", count: 2)
                emulator.press("k2", "0000200000000000", release: Self.keyUp)
                #expect(pair.exitStatus(timeout: 20) == 0, "\(pair.out.all) \(pair.err.all)")
            } catch {
                pair.terminate()
                throw EmulatorError("\(error)\n--- pingjia pair\n\(pair.out.all.joined(separator: "\n"))\n\(pair.err.all.joined(separator: "\n"))")
            }
            // The keypad was thanked with its own feedback, so the installer sees which one took.
            #expect(!emulator.events.objects("out", ["device": "k2"]).isEmpty)
            #expect(emulator.events.objects("out", ["device": "k1"]).isEmpty)
            let config = try String(contentsOf: state.appendingPathComponent("pingjia.toml"), encoding: .utf8)
            #expect(config.contains("# The installer's own notes survive pairing."))
            #expect(config.contains("[[keypad]]\nport = \"1-2\"\nserial = \"EMU-k2\"\nwindow = \"3\"\n"), "\(config)")
            #expect(!config.contains("\"1-1\""), "\(config)")

            let list = try emulator.launch("pingjia", ["pair", "--list", "--state-dir", state.path])
            #expect(list.exitStatus(timeout: 20) == 0)
            #expect(list.out.all.contains("3\t1-2\tEMU-k2\t-\tyes"), "\(list.out.all)")

            emulator.send("unplug k2")
            try emulator.events.wait(for: "unplugged", ["device": "k2"])
            emulator.send("replug k2")
            try emulator.events.wait(for: "plugged", ["device": "k2"], count: 2)

            let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path])
            defer { daemon.terminate() }
            do {
                try daemon.err.waitForText("device attached", count: 2, timeout: 20)
                // While the daemon holds the keypads, pairing refuses with one line.
                let refused = try emulator.launch("pingjia", ["pair", "--window", "4", "--state-dir", state.path])
                #expect(refused.exitStatus(timeout: 20) == 1)
                #expect(refused.err.all.count == 1 && refused.err.all.first?.contains("pingjiad is running") == true, "\(refused.err.all)")

                emulator.press("k2", "0000200000000000", release: Self.keyUp)
                try daemon.err.waitForText("rating committed", timeout: 20)
                usleep(400_000)
                emulator.press("k1", "0000200000000000", release: Self.keyUp)
                try daemon.err.waitForText("rating committed", count: 2, timeout: 20)
                let rows = try ratings(state, sql: "SELECT window_id, staff_id, flags FROM rating ORDER BY seq")
                // k2 rates at window 3 (A1023 serves there in the roster); k1 is unpaired.
                #expect(rows == ["3|A1023|[]", #"usb-1-1||["unarmed"]"#], "\(rows)")
            } catch {
                throw EmulatorError("\(error)\n--- pingjiad log\n\(daemon.err.all.joined(separator: "\n"))")
            }
        }
    }

    @Test func unpairForgetsTheWindowsKeypad() throws {
        try withEmulator([]) { emulator in
            let state = try kiosk(in: emulator, config: """
                [log]
                level = "info"

                [[keypad]]
                port = "1-2"
                window = "3"

                [[keypad]]
                port = "1-3"
                window = "4"
                """)
            let unpair = try emulator.launch("pingjia", ["pair", "--unpair", "--window", "3", "--state-dir", state.path])
            #expect(unpair.exitStatus(timeout: 20) == 0, "\(unpair.err.all)")
            let config = try String(contentsOf: state.appendingPathComponent("pingjia.toml"), encoding: .utf8)
            #expect(config == "[log]\nlevel = \"info\"\n\n[[keypad]]\nport = \"1-3\"\nwindow = \"4\"", "\(config)")
            // Nothing plugged in: one line saying what to do, config untouched.
            let none = try emulator.launch("pingjia", ["pair", "--window", "5", "--timeout", "2", "--state-dir", state.path])
            #expect(none.exitStatus(timeout: 20) == 1)
            #expect(none.err.all.count == 1 && none.err.all.first?.contains("no rating keypad is plugged in") == true, "\(none.err.all)")
            #expect(try String(contentsOf: state.appendingPathComponent("pingjia.toml"), encoding: .utf8) == config)
        }
    }
}

import Foundation
import Testing

/// SIGTERM in the middle of a burst of key presses: every press the keypad was thanked for is in
/// the store after a restart, and the daemon exits 0 within 5 s. In the serialized emulator suite.
extension KeypadEmulatorTests {
    @Test func sigtermDuringABurstKeepsEveryThankedPress() throws {
        try withEmulator([.pj3r(port: "2")]) { emulator in
            let state = try kiosk(in: emulator, config: """
                [[keypad]]
                port = "1-2"
                staff = "A1023"
                """)
            let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path])
            defer { daemon.terminate() }
            do {
                try daemon.err.waitForText("device attached", timeout: 20)
                // 1,000 presses as fast as the emulator takes them, from another thread, so the
                // signal lands while presses are still arriving.
                let presses = 1_000
                let sender = Thread {
                    for index in 0..<presses {
                        emulator.press("pj3r", "010\(index % 3 + 1)0000", release: "01000000")
                    }
                }
                sender.start()
                // Partway: once the keypad has been thanked 50 times (a few hundred ms in).
                _ = try emulator.events.wait(for: "out", ["device": "pj3r", "data": "02010100"], count: 50, timeout: 60)
                let signalled = Date()
                kill(daemon.pid, SIGTERM)
                let status = daemon.exitStatus(timeout: 5)
                let took = Date().timeIntervalSince(signalled)
                #expect(status == 0, "pingjiad exit \(String(describing: status)) after SIGTERM")
                #expect(took < 5, "pingjiad took \(took) s to stop")
                while sender.isExecuting { usleep(10_000) }

                // What the keypad was told: each thanks is sent only after its commit returned.
                let thanked = emulator.events.objects("out", ["device": "pj3r", "data": "02010100"]).count
                let errors = emulator.events.objects("out", ["device": "pj3r", "data": "02020300"]).count
                #expect(errors == 0, "presses not recorded: \(errors)")
                #expect(thanked < presses, "the signal came after the burst: \(thanked) thanked; it tests nothing")

                // Restart: the daemon opens the store, finds it sound and the ratings there.
                let again = try emulator.launch("pingjiad", ["--state-dir", state.path])
                try again.err.waitForText(" ready", timeout: 20)
                #expect(again.terminate() == 0)
                let stored = try ratings(state, sql: "SELECT level FROM rating ORDER BY seq")
                #expect(stored.count >= thanked, "thanked \(thanked) presses, only \(stored.count) in the store")
                // Nothing made up: the stored presses are the pressed levels, in order.
                let pressed = (0..<stored.count).map { "\($0 % 3 + 1)" }
                #expect(stored == pressed, "stored levels differ from the pressed ones")
                let verify = try emulator.launch("pingjia", ["outbox", "verify", "--state-dir", state.path])
                #expect(verify.exitStatus(timeout: 30) == 0, "\(verify.err.all)\n\(verify.out.all)")
            } catch {
                throw EmulatorError("\(error)\n--- pingjiad log\n\(daemon.err.all.suffix(40).joined(separator: "\n"))")
            }
        }
    }
}

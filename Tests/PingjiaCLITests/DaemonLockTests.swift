import Foundation
import Testing

@Suite struct DaemonLockTests {
    /// One pingjiad per state directory; setup refuses to work under a running one.
    @Test func aSecondDaemonAndSetupAreRefusedWhilePingjiadRuns() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            try Data("[web]\nlisten = \"127.0.0.1:\(try freePort())\"\n".utf8).write(to: state.appendingPathComponent("pingjia.toml"))
            let first = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            defer { first.stop() }
            #expect(first.waitFor(" ready", timeout: 20), "\(first.log)")

            let second = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            #expect(second.waitForExit(timeout: 10) == 1, "\(second.log)")
            #expect(second.log.contains("pingjiad: cannot start: another pingjiad is already running on \(state.path)"), "\(second.log)")

            let setup = try pingjia(["setup", "--non-interactive", "--force", "--hall", "h", "--name", "n", "--windows", "3", "--offline",
                                     "--roster", repoRoot.appendingPathComponent("demo/roster.csv").path], state: state)
            #expect(setup.status == 1 && setup.stderrLines.count == 1 && setup.stderr.contains("pingjiad is running"), "\(setup)")
            #expect(first.process.isRunning)
        }
    }
}

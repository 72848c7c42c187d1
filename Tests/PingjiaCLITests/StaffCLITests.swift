import Foundation
import Testing

@Suite struct StaffCLITests {
    @Test func staffCommandWithNoDaemonSaysWhereItLookedAndWhatToCheck() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            // Port 1: nothing listens there, so the connection is refused at once.
            let config = state.appendingPathComponent("pingjia.toml")
            let text = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "listen = \"127.0.0.1:8080\"", with: "listen = \"127.0.0.1:1\"")
            try text.write(to: config, atomically: true, encoding: .utf8)
            let result = try pingjia(["staff", "pause", "--window", "3"], state: state)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderrLines.count == 1, "\(result)")
            #expect(result.stderr.contains("cannot reach pingjiad at 127.0.0.1:1") && result.stderr.contains("is it running"), "\(result)")
        }
    }

    @Test func staffCommandRefusesAnUnknownAction() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let result = try pingjia(["staff", "sleep", "--window", "3"], state: state)
            #expect(result.status != 0)
            #expect(result.stderr.contains("signin"), "\(result)")
        }
    }
}

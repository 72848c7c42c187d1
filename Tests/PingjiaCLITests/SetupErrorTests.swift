import Foundation
import Testing

/// Acceptance 4: each wrong answer to `pingjia setup` is one line on stderr saying what to do,
/// and nothing is left behind: no state directory, no half-written config, no key.
@Suite(.serialized) struct SetupErrorTests {
    func setup(_ extra: [String], roster: String, state: URL) throws -> Run {
        try pingjia(["setup", "--non-interactive", "--hall", "演示大厅", "--name", "1号评价器", "--windows", "3,4,5",
                     "--roster", roster] + extra, state: state)
    }

    func expectOneLineAndNothingLeft(_ result: Run, _ text: String, state: URL, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == 1, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "one line: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(text), "\(result)", sourceLocation: sourceLocation)
        #expect(!FileManager.default.fileExists(atPath: state.path), "left behind: \(state.path)", sourceLocation: sourceLocation)
    }

    @Test func everyWrongAnswerIsOneLineAndLeavesNothing() throws {
        try withTempDir { dir in
            let roster = repoRoot.appendingPathComponent("demo/roster.csv").path
            let state = dir.appendingPathComponent("state")
            let db = dir.appendingPathComponent("hub/hub.db")
            let (hub, url) = try SyncCLITests.startHub(db: db, in: dir)
            defer { hub.stop() }

            // A code the hub never gave: refused after the store was made, so all of it is undone.
            let badCode = try setup(["--hub", url, "--code", "AAAA-BBBB"], roster: roster, state: state)
            expectOneLineAndNothingLeft(badCode, "the hub refused the enrollment code", state: state)
            #expect(badCode.stderr.contains("ask the hub operator for a new code"), "\(badCode)")

            // A hub without --public-url: refused before the code is spent, naming the flag.
            let noPublicDB = dir.appendingPathComponent("plain/hub.db")
            try FileManager.default.createDirectory(at: noPublicDB.deletingLastPathComponent(), withIntermediateDirectories: true)
            let plainPort = try freePort()
            let plain = try RunningProcess(try binary("pingjia-hub"), ["serve", "--db", noPublicDB.path, "--port", "\(plainPort)"], in: dir)
            defer { plain.stop() }
            #expect(plain.waitFor("listening=", timeout: 20), "\(plain.log)")
            let plainCode = try SyncCLITests.hubCLI(["devices", "add", "--hall", "演示大厅", "--name", "1号评价器"], db: noPublicDB, in: dir)
            let noPublic = try setup(["--hub", "http://127.0.0.1:\(plainPort)", "--code", plainCode.stdout.trimmingCharacters(in: .whitespacesAndNewlines)],
                                     roster: roster, state: state)
            expectOneLineAndNothingLeft(noPublic, "pingjia-hub serve --public-url", state: state)
            #expect(try SyncCLITests.hubCLI(["devices", "list"], db: noPublicDB, in: dir).stdout.contains("pending"),
                    "the code is not spent")

            let unreachable = try setup(["--hub", "http://127.0.0.1:\(try freePort())", "--code", "AAAA-BBBB"], roster: roster, state: state)
            expectOneLineAndNothingLeft(unreachable, "cannot reach the hub", state: state)
            #expect(unreachable.stderr.contains("--offline"), "\(unreachable)")

            let badRow = dir.appendingPathComponent("bad.csv")
            try Data("工号,姓名,窗口\nA1,张三,3\nA2,,4\n".utf8).write(to: badRow)
            let rowResult = try setup(["--offline"], roster: badRow.path, state: state)
            expectOneLineAndNothingLeft(rowResult, "bad.csv:3:", state: state)

            let stray = dir.appendingPathComponent("stray.csv")
            try Data("工号,姓名,窗口\nA1,张三,9\n".utf8).write(to: stray)
            expectOneLineAndNothingLeft(try setup(["--offline"], roster: stray.path, state: state),
                                        "works at window 9, which is not one of --windows 3,4,5", state: state)

            expectOneLineAndNothingLeft(try setup([], roster: roster, state: state), "--hub (or --offline) is missing", state: state)

            // Offline works; a second setup over it refuses without --force.
            let offline = try setup(["--offline"], roster: roster, state: state)
            #expect(offline.status == 0, "\(offline)")
            let again = try setup(["--offline"], roster: roster, state: state)
            #expect(again.status == 1 && again.stderrLines.count == 1 && again.stderr.contains("already set up"), "\(again)")
        }
    }

    /// The conflict case of one roster per hall: a second kiosk of the hall set up with another
    /// roster keeps the hub's, and setup says what differed and how to change the hall's roster.
    @Test func aSecondKioskWithAnotherRosterTakesTheHubsAndSaysSo() throws {
        try withTempDir { dir in
            let first = try SetUpHall(in: dir, roster: repoRoot.appendingPathComponent("demo/roster.csv"), windows: "3,4,5")
            defer { first.hub.stop() }
            let other = dir.appendingPathComponent("other.csv")
            try Data("工号,姓名,窗口\nA1023,张三丰,3\nC3001,赵六,4\n".utf8).write(to: other)
            let code = try SyncCLITests.hubCLI(["devices", "add", "--hall", "演示大厅", "--name", "2号评价器"], db: first.hubDB, in: dir)
            let second = dir.appendingPathComponent("second")
            let result = try pingjia(["setup", "--non-interactive", "--hall", "演示大厅", "--name", "2号评价器", "--windows", "3,4,5",
                                      "--hub", first.hubURL, "--code", code.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                                      "--roster", other.path], state: second)
            #expect(result.status == 0, "\(result)")
            let warning = result.stdout.split(separator: "\n").first { $0.hasPrefix("! ") } ?? ""
            #expect(warning.contains("another roster for 演示大厅") && warning.contains("pingjia-hub roster import --hall 演示大厅"), "\(result)")
            let listed = try pingjia(["roster", "list"], state: second)
            #expect(listed.stdout.contains("张三") && !listed.stdout.contains("张三丰") && !listed.stdout.contains("C3001"), "\(listed)")
            let hubRoster = try SyncCLITests.hubCLI(["roster", "list", "--hall", "演示大厅"], db: first.hubDB, in: dir)
            #expect(hubRoster.stdout.contains("王五") && !hubRoster.stdout.contains("赵六"), "the hub's roster stays: \(hubRoster)")
        }
    }
}

/// A loopback HTTP server that answers every request with one fixed response: a "hub" whose
/// clock is years off, which a real hub cannot be made to be.
final class FixedResponseServer: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let thread: Thread

    init(response: String) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 && listen(listener, 8) == 0
            }
        }
        guard ok else { throw SupportError("cannot listen on loopback: \(String(cString: strerror(errno)))") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let bytes = Array(response.utf8)
        thread = Thread {
            while true {
                let client = accept(listener, nil, nil)
                if client < 0 { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = recv(client, &buffer, buffer.count, 0)
                _ = send(client, bytes, bytes.count, Int32(MSG_NOSIGNAL))
                close(client)
            }
        }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

extension SetupErrorTests {
    @Test func aClockFarFromTheHubsIsOneLineAndLeavesNothing() throws {
        try withTempDir { dir in
            let server = try FixedResponseServer(response: "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            defer { server.stop() }
            let state = dir.appendingPathComponent("state")
            let result = try setup(["--hub", "http://127.0.0.1:\(server.port)", "--code", "AAAA-BBBB"],
                                   roster: repoRoot.appendingPathComponent("demo/roster.csv").path, state: state)
            expectOneLineAndNothingLeft(result, "s off the hub's: set it (timedatectl set-ntp true", state: state)
        }
    }
}

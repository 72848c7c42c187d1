import Foundation
import Testing

/// The daemon with sessions and the local web: a session armed over HTTP is rated by the first key
/// press only (一次一评). In the serialized emulator suite, so no two emulated buses run at once.
extension KeypadEmulatorTests {
    @Test func aSessionArmedThroughTheLocalAPICountsTheFirstPressOnly() throws {
        try withEmulator([.pj3r(port: "2")]) { emulator in
            let port = try freeLoopbackPort()
            let state = try kiosk(in: emulator, config: """
                [[keypad]]
                port = "1-2"
                staff = "A1023"

                [[window]]
                id = "4"
                timeout_ms = 1000

                [web]
                listen = "127.0.0.1:\(port)"
                """)
            let daemon = try emulator.launch("pingjiad", ["--state-dir", state.path])
            defer { daemon.terminate() }
            do {
                try daemon.err.waitForText("device attached", timeout: 20)
                try daemon.err.waitForText("local web listening", timeout: 20)
                // A1023 serves at window 3 (demo roster); the business system opens a transaction.
                let armed = try httpPost(port: port, path: "/api/v1/windows/3/session",
                                         json: #"{"staffId":"A1023","matterCode":"11000000000000000X4440111700001","caseNo":"2026-7"}"#)
                #expect(armed.hasPrefix("HTTP/1.1 201"), "\(armed)")

                emulator.press("pj3r", "01030000", release: "01000000")
                _ = try emulator.events.wait(for: "out", ["device": "pj3r"])
                usleep(400_000)   // slower than the burst limit: a person pressing again
                emulator.press("pj3r", "01030000", release: "01000000")
                _ = try emulator.events.wait(for: "out", ["device": "pj3r"], count: 2)
                let rows = try ratings(state, sql: "SELECT seq, staff_id, window_id, case_no, flags FROM rating ORDER BY seq")
                #expect(rows.count == 2, "\(rows)")
                #expect(rows.first == "1|A1023|3|2026-7|[]", "\(rows)")
                #expect(rows.last == #"2|A1023|3||["repeat"]"#, "\(rows)")

                // The CLI pauses the window through the same API; the next press is kept, flagged.
                let cli = try emulator.launch("pingjia", ["staff", "pause", "--window", "3", "--state-dir", state.path])
                #expect(cli.exitStatus(timeout: 30) == 0, "\(cli.err.all)")
                usleep(400_000)
                emulator.press("pj3r", "01030000", release: "01000000")
                _ = try emulator.events.wait(for: "out", ["device": "pj3r"], count: 3)
                let paused = try ratings(state, sql: "SELECT flags FROM rating WHERE seq = 3")
                #expect(paused == [#"["paused","repeat"]"#], "\(paused)")

                // Back at work: signed in by the CLI, 请评价 on the keypad arms the next session.
                let signin = try emulator.launch("pingjia", ["staff", "signin", "--window", "3", "--staff", "A1023", "--state-dir", state.path])
                #expect(signin.exitStatus(timeout: 30) == 0, "\(signin.err.all)")
                emulator.press("pj3r", "01000100", release: "01000000")
                try daemon.err.waitForText("session armed by the keypad")
                usleep(400_000)   // a sign-in and a call can be quicker than the burst limit after the last press
                emulator.press("pj3r", "01010000", release: "01000000")
                _ = try emulator.events.wait(for: "out", ["device": "pj3r"], count: 4)
                let called = try ratings(state, sql: "SELECT staff_id, level, flags FROM rating WHERE seq = 4")
                #expect(called == ["A1023|1|[]"], "\(called)")

                // Window 4 times out after 1 s: nobody rated, 未评价 with window and staff.
                let other = try httpPost(port: port, path: "/api/v1/windows/4/session", json: #"{"staffId":"A1024"}"#)
                #expect(other.hasPrefix("HTTP/1.1 201"), "\(other)")
                try daemon.err.waitForText("session timed out unrated", timeout: 10)
                let line = daemon.err.all.first { $0.contains("session timed out unrated") } ?? ""
                #expect(line.contains("window=4") && line.contains("staff=A1024"), "\(line)")
                // ... and stored as a 未评价 record in the same chain, after the four presses.
                let unrated = try ratings(state, sql: "SELECT seq, kind, window_id, staff_id, level FROM rating WHERE kind = 'unrated'")
                #expect(unrated == ["5|unrated|4|A1024|0"], "\(unrated)")
                #expect(daemon.terminate() == 0)
            } catch {
                throw EmulatorError("\(error)\n--- pingjiad log\n\(daemon.err.all.joined(separator: "\n"))")
            }
        }
    }
}

/// A port nothing listens on right now, for a daemon's `[web] port`.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw EmulatorError("cannot find a free loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// One POST over a plain socket (the test target has no HTTP client); the whole response as text.
func httpPost(port: Int, path: String, json: String) throws -> String {
    let fd = try loopbackConnection(port: port)
    defer { close(fd) }
    let body = Array(json.utf8)
    let request = Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body
    guard send(fd, request, request.count, 0) == request.count else { throw EmulatorError("cannot send to pingjiad") }
    var response = Data()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: response, as: UTF8.self)
}

/// A TCP connection to pingjiad on loopback, reads timing out after 10 s; the caller closes it.
func loopbackConnection(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        throw EmulatorError("cannot connect to pingjiad on 127.0.0.1:\(port): errno \(errno)")
    }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

import Foundation
import Testing

/// Remote configuration end to end with the built binaries: `pingjia-hub serve` and `config
/// set/status`, a running `pingjiad` that takes the change without a restart while ratings keep
/// arriving through its local API, and the documents the hub or the kiosk refuses.
@Suite(.serialized) struct RemoteConfigCLITests {
    /// One HTTP/1.1 request on a fresh loopback connection, read to the end (`Connection: close`).
    static func http(_ port: Int, _ method: String, _ path: String, json body: String? = nil) throws -> (status: Int, body: String) {
        let fd = try connectLoopback(port, receiveTimeout: timeval(tv_sec: 10, tv_usec: 0))
        defer { close(fd) }
        let payload = Array((body ?? "").utf8)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if body != nil { request += "Content-Type: application/json\r\n" }
        request += "Content-Length: \(payload.count)\r\n\r\n"
        let bytes = Array(request.utf8) + payload
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw SupportError("send failed") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let statusText = text.split(separator: " ", maxSplits: 2).dropFirst().first, let status = Int(statusText) else {
            throw SupportError("no HTTP answer from \(port)\(path): \(text)")
        }
        let bodyText = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return (status, bodyText)
    }

    /// Reads the event stream at `path` until `text` arrives (true) or `timeout` passes (false).
    static func stream(_ port: Int, _ path: String, until text: String, timeout: TimeInterval) -> Bool {
        guard let fd = try? connectLoopback(port, receiveTimeout: timeval(tv_sec: 0, tv_usec: 200_000)) else { return false }
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return false }
            if count > 0 {
                received += buffer[0..<count]
                if String(decoding: received, as: UTF8.self).contains(text) { return true }
            }
        }
        return false
    }

    static func waitUntil(_ timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return try condition()
    }

    /// A running `pingjia-hub serve` with a device slot of 市民中心 and the one-time code for it.
    static func hubWithASlot(in dir: URL) throws -> (hub: RunningProcess, url: String, db: URL, code: String) {
        let hubDB = dir.appendingPathComponent("hub/hub.db")
        let (hub, url) = try SyncCLITests.startHub(db: hubDB, in: dir)
        let added = try SyncCLITests.hubCLI(["devices", "add", "--hall", "市民中心", "--name", "3号窗口"], db: hubDB, in: dir)
        guard added.status == 0 else {
            hub.stop()
            throw SupportError("pingjia-hub devices add failed: \(added)")
        }
        return (hub, url, hubDB, added.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func aChangeIsAppliedLiveAndRefusalsKeepTheOldConfiguration() throws {
        try withTempDir { dir in
            let (hub, url, hubDB, code) = try Self.hubWithASlot(in: dir)
            defer { hub.stop() }
            let state = try initialisedState(in: dir, roster: true)
            let device = try deviceId(of: state)
            let enrolled = try pingjia(["enroll", "--hub", url, "--code", code], state: state)
            #expect(enrolled.status == 0, "\(enrolled)")
            // Window 3 is open in the local file; window 4's mode and the QR link are left to the hub.
            let port = try freePort()
            // Heartbeats every 10 s: each answer names the hub's version, and a different one is fetched.
            try Data("""
                [sync]
                heartbeat_seconds = 10

                [session]
                timeout_ms = 15000

                [[window]]
                id = "3"
                mode = "open"

                [web]
                listen = "127.0.0.1:\(port)"

                """.utf8).write(to: state.appendingPathComponent("pingjia.toml"))

            let daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            defer { daemon.stop() }
            #expect(daemon.waitFor("local web listening", timeout: 30), "\(daemon.log)")
            #expect(try Self.http(port, "GET", "/api/v1/windows/4").body.contains(#""mode":"armed""#))

            // Ratings keep arriving at window 3 (local API) and from `pingjia rate` all through.
            let stop = Locked(false)
            let accepted = Locked(0)
            let failures = Locked([String]())
            let presses = Thread {
                while !stop.value {
                    do {
                        let answer = try Self.http(port, "POST", "/api/v1/windows/3/rating", json: #"{"level":1}"#)
                        if answer.status == 201 { accepted.mutate { $0 += 1 } } else { failures.mutate { $0.append("\(answer.status) \(answer.body)") } }
                    } catch {
                        failures.mutate { $0.append("\(error)") }
                    }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
            presses.start()
            var rated = 0
            func rate() throws {
                let run = try pingjia(["rate", "--staff", "A1024", "--level", "2"], state: state)
                #expect(run.status == 0, "\(run)")
                rated += 1
            }
            try rate()

            // A document the hub's validator refuses never reaches a device.
            let bad = dir.appendingPathComponent("bad.toml")
            try Data("[[window]]\nid = \"4\"\nmode = \"sometimes\"\n[sync]\nhub_url = \"https://elsewhere.example\"\n".utf8).write(to: bad)
            let refused = try SyncCLITests.hubCLI(["config", "set", "--hall", "市民中心", bad.path], db: hubDB, in: dir)
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("bad.toml:3: mode 'sometimes' must be"), "\(refused)")
            #expect(refused.stderr.contains("bad.toml:4: [sync] cannot be set remotely"), "\(refused)")

            // A valid change: window 4 armed → open, and a new QR link.
            let hall = dir.appendingPathComponent("hall.toml")
            try Data("""
                [qr]
                url_template = "https://hub.example.gov.cn/r/{deviceId}/{staffId}?w={windowId}"

                [session]
                timeout_ms = 30000

                [[window]]
                id = "4"
                mode = "open"

                """.utf8).write(to: hall)
            // An open window display is pushed the new link over its event stream (no reload).
            let pushed = Locked(false)
            let newLink = "https://hub.example.gov.cn/r/\(device)/A1023?w=3"
            let display = Thread { pushed.mutate { $0 = Self.stream(port, "/display/3/events", until: newLink, timeout: 35) } }
            display.start()
            Thread.sleep(forTimeInterval: 0.5)
            let set = try SyncCLITests.hubCLI(["config", "set", "--hall", "市民中心", hall.path], db: hubDB, in: dir)
            #expect(set.status == 0 && set.stdout.contains("\(device)\tversion 1"), "\(set)")
            #expect(try Self.waitUntil(30) { try Self.http(port, "GET", "/api/v1/windows/4").body.contains(#""mode":"open""#) }, "\(daemon.log)")
            while display.isExecuting { Thread.sleep(forTimeInterval: 0.05) }
            #expect(pushed.value, "the display's event stream never carried \(newLink)")
            let config = try Self.http(port, "GET", "/api/v1/config").body
            #expect(config.contains(#""remoteVersion":1"#) && config.contains(#""localOverrides":["session.timeout_ms"]"#), "\(config)")
            #expect(config.contains(#""qrURLTemplate":"https://hub.example.gov.cn/r/{deviceId}/{staffId}?w={windowId}""#), "\(config)")
            try rate()
            #expect(try Self.waitUntil(30) {
                let status = try SyncCLITests.hubCLI(["config", "status"], db: hubDB, in: dir).stdout
                return status.contains("\(device)\t市民中心\t1\t1\t-\t-\tsession.timeout_ms")
            })
            let shown = try pingjia(["config", "show"], state: state)
            #expect(shown.stdout.contains("hub configuration: version 1"), "\(shown)")
            #expect(shown.stdout.contains("window.4.mode = \"open\"\t# hub"), "\(shown)")
            #expect(shown.stdout.contains("session.timeout_ms = 15000\t# local override (the hub sets it too)"), "\(shown)")

            // Valid for the hub, but no such scale on this kiosk: refused, the reason on the hub.
            let seven = dir.appendingPathComponent("seven.toml")
            try Data("[rating]\nscale = \"seven\"\n".utf8).write(to: seven)
            let setSeven = try SyncCLITests.hubCLI(["config", "set", "--device", device, seven.path], db: hubDB, in: dir)
            #expect(setSeven.status == 0, "\(setSeven)")
            var status = ""
            #expect(try Self.waitUntil(30) {
                status = try SyncCLITests.hubCLI(["config", "status"], db: hubDB, in: dir).stdout
                return status.contains("\(device)\t市民中心\t2\t1\t2\t[rating] scale:")
            }, "\(status)")
            #expect(status.contains("seven"), "\(status)")
            #expect(try Self.http(port, "GET", "/api/v1/config").body.contains(#""remoteVersion":1"#))
            #expect(try Self.http(port, "GET", "/api/v1/windows/4").body.contains(#""mode":"open""#))
            try rate()

            stop.mutate { $0 = true }
            while presses.isExecuting { Thread.sleep(forTimeInterval: 0.05) }
            #expect(failures.value.isEmpty, "\(failures.value)")
            #expect(accepted.value > 0)
            daemon.stop()
            #expect(daemon.waitForExit(timeout: 15) == 0, "\(daemon.log)")

            // Every rating taken before, during and after the change is stored, the chain intact.
            let count = try sqlite3(state.appendingPathComponent("pingjia.db"), "SELECT count(*) FROM rating;")
            #expect(Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) == accepted.value + rated)
            let verify = try pingjia(["outbox", "verify"], state: state)
            #expect(verify.status == 0, "\(verify)")

            // A restart comes up with the applied version (kept in the state directory).
            let again = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path, "--config-poll-seconds", "60"], in: dir)
            defer { again.stop() }
            #expect(again.waitFor("local web listening", timeout: 30), "\(again.log)")
            #expect(try Self.http(port, "GET", "/api/v1/windows/4").body.contains(#""mode":"open""#))
        }
    }

    /// A running kiosk follows its hall's roster on the hub without a visit or a restart: the
    /// hub's new roster is in its store at the next poll, and `config status` shows it current.
    @Test func aRunningKioskFollowsTheHallsRosterOnTheHub() throws {
        try withTempDir { dir in
            let (hub, url, hubDB, code) = try Self.hubWithASlot(in: dir)
            defer { hub.stop() }
            let state = try initialisedState(in: dir, roster: true)
            let device = try deviceId(of: state)
            try Data("[sync]\nheartbeat_seconds = 10\n".utf8).write(to: state.appendingPathComponent("pingjia.toml"))
            // Enrolled while pingjiad runs: the installer is told to restart it.
            let before = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            #expect(before.waitFor("sync is off", timeout: 30), "\(before.log)")
            let enrolled = try pingjia(["enroll", "--hub", url, "--code", code], state: state)
            #expect(enrolled.status == 0 && enrolled.stdout.contains("pingjiad is running: restart it"), "\(enrolled)")
            before.stop()
            let daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path, "--roster-poll-seconds", "0.5"], in: dir)
            defer { daemon.stop() }
            #expect(daemon.waitFor("the hub holds no roster for this hall", timeout: 30), "\(daemon.log)")
            #expect(try pingjia(["roster", "list"], state: state).stdout.contains("A1024\t李四"))

            // The hall's roster on the hub: 李四 has left, 赵六 has come.
            let csv = dir.appendingPathComponent("hall.csv")
            try Data("""
                工号,姓名,窗口,窗口名称,照片,事项
                A1023,张三,3,综合受理3号窗口,,11000000000000000X4440111700001
                B2001,王五,5,不动产登记窗口,,
                C3001,赵六,6,社保窗口,,

                """.utf8).write(to: csv)
            let imported = try SyncCLITests.hubCLI(["roster", "import", "--hall", "市民中心", csv.path], db: hubDB, in: dir)
            #expect(imported.status == 0, "\(imported)")
            #expect(daemon.waitFor("roster from the hub applied", timeout: 30), "\(daemon.log)")
            let listed = try pingjia(["roster", "list"], state: state).stdout
            #expect(listed.contains("C3001\t赵六\t6") && !listed.contains("A1024"), "\(listed)")
            #expect(listed.contains("A1023\t张三\t3\tA1023.png"), "the kiosk keeps its photos: \(listed)")
            // The heartbeat that follows the change names the roster; the hub shows it current.
            let current = try Self.waitUntil(30) {
                try SyncCLITests.hubCLI(["config", "status"], db: hubDB, in: dir).stdout
                    .split(separator: "\n").contains { $0.hasPrefix(device) && $0.hasSuffix("\tcurrent") }
            }
            let status = try SyncCLITests.hubCLI(["config", "status"], db: hubDB, in: dir).stdout
            #expect(current, "\(status)")
        }
    }

    @Test func rosterPullImportsTheHallsRosterFromTheHub() throws {
        try withTempDir { dir in
            let (hub, url, hubDB, code) = try Self.hubWithASlot(in: dir)
            defer { hub.stop() }
            let state = try initialisedState(in: dir)
            let enrolled = try pingjia(["enroll", "--hub", url, "--code", code], state: state)
            #expect(enrolled.status == 0, "\(enrolled)")
            let none = try pingjia(["roster", "pull"], state: state)
            #expect(none.status == 1 && none.stderr.contains("404 no-roster"), "\(none)")

            let imported = try SyncCLITests.hubCLI(["roster", "import", "--hall", "市民中心", repoRoot.appendingPathComponent("demo/roster.csv").path,
                                                    "--photos", repoRoot.appendingPathComponent("demo/photos").path], db: hubDB, in: dir)
            #expect(imported.status == 0, "\(imported)")
            let dry = try pingjia(["roster", "pull", "--dry-run"], state: state)
            #expect(dry.status == 0 && dry.stdout.contains("A1023") && dry.stdout.contains("dry run: nothing applied"), "\(dry)")
            let pulled = try pingjia(["roster", "pull"], state: state)
            #expect(pulled.status == 0 && pulled.stdout.contains("pulled the roster of 市民中心: 3 added, 0 updated, 0 removed; 3 windows"), "\(pulled)")
            let listed = try pingjia(["roster", "list"], state: state)
            #expect(listed.stdout.contains("A1023\t张三\t3\t-\t11000000000000000X4440111700001;11000000000000000X4440111700002"), "\(listed)")
            let again = try pingjia(["roster", "pull"], state: state)
            #expect(again.stdout.contains("no change to the staff"), "\(again)")
        }
    }
}

import Foundation
import Testing

/// The display and touch pages of a real `pingjiad` (temporary state directory, a free loopback
/// port) in real headless Chromium, driven by selenium from `Tests/Fixtures/browser/pages.py`.
/// Screenshots stay in `.build/test-screenshots/` for a person to look at; each test prints where.
/// Serialized: one browser at a time is enough for a 2-core machine.
@Suite(.serialized) struct BrowserTests {
    static let driver = repoRoot.appendingPathComponent("Tests/Fixtures/browser/pages.py").path

    /// A kiosk on the demo roster: window 3 open (every press counts), window 4 armed.
    final class Kiosk {
        let dir: URL
        let state: URL
        let port: Int
        let daemon: RunningProcess

        init(_ dir: URL, window4Timeout: Int = 10_000) throws {
            self.dir = dir
            state = try initialisedState(in: dir, roster: true)
            port = try freePort()
            try Data("""
                [[window]]
                id = "3"
                mode = "open"

                [[window]]
                id = "4"
                mode = "armed"
                timeout_ms = \(window4Timeout)

                [web]
                listen = "127.0.0.1:\(port)"
                """.utf8).write(to: state.appendingPathComponent("pingjia.toml"))
            daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            guard daemon.waitFor("local web listening", timeout: 30) else {
                throw SupportError("pingjiad did not start its web within 30 s:\n\(daemon.log)")
            }
        }

        var base: String { "http://127.0.0.1:\(port)" }

        /// The store's records, one line each: seq|kind|level|channel|refers_to|id|reasons|comment|flags.
        func records() throws -> [[String]] {
            try sqlite3(state.appendingPathComponent("pingjia.db"), """
                SELECT seq || '|' || kind || '|' || level || '|' || channel || '|' || coalesce(refers_to, '') || '|' || id
                    || '|' || reasons || '|' || coalesce(comment, '') || '|' || flags FROM rating ORDER BY seq
                """).split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        }

        func stop() {
            daemon.stop()
        }
    }

    /// Where this test's screenshots go, announced on stdout.
    static func screenshots(_ test: String) throws -> URL {
        let dir = repoRoot.appendingPathComponent(".build/test-screenshots", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        print("screenshots of \(test): \(dir.path)/\(test)*.png")
        return dir.appendingPathComponent(test)
    }

    /// Runs the browser driver; its JSON on success, the whole run in the failure otherwise.
    static func browse(_ arguments: [String], in dir: URL) throws -> [String: Any] {
        let result = try run(tool("python3"), [driver] + arguments, in: dir, timeout: 180)
        guard result.status == 0,
              let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw SupportError("the browser driver failed (needs chromium, chromium-driver and selenium: `make deps`): \(result)")
        }
        return object
    }

    @Test func theQRCodeInAScreenshotOfTheDisplayIsTheStaffsRatingURL() throws {
        try withTempDir { dir in
            let kiosk = try Kiosk(dir)
            defer { kiosk.stop() }
            let shot = try Self.screenshots("display-qr").path + ".png"
            let seen = try Self.browse(["display-shot", "\(kiosk.base)/display/3", shot], in: dir)
            #expect(seen["name"] as? String == "张三", "\(seen)")
            let decoded = try run(tool("zbarimg"), ["--raw", "-q", "--nodbus", "-Sbinary", shot], in: dir)
            #expect(decoded.status == 0, "no QR code found in \(shot): \(decoded)")
            #expect(decoded.stdout == "https://pingjia.invalid/r/\(try deviceId(of: kiosk.state))/A1023", "\(decoded)")
        }
    }

    @Test func aTapOnALevelIsAStoredRatingAndReasonsFollowABadOne() throws {
        try withTempDir { dir in
            let kiosk = try Kiosk(dir)
            defer { kiosk.stop() }
            let prefix = try Self.screenshots("touch").path
            let good = try Self.browse(["touch", "\(kiosk.base)/touch/3", "1", prefix + "-good"], in: dir)
            #expect(good["screens"] as? [String] == ["thanks"], "\(good)")
            #expect((good["thanks"] as? String)?.contains("谢谢") == true, "\(good)")
            var records = try kiosk.records()
            #expect(records.count == 1, "\(records)")
            #expect(records.first.map { Array($0[1...3]) } == ["rating", "1", "touch"], "\(records)")

            let bad = try Self.browse(["touch", "\(kiosk.base)/touch/3", "5", prefix + "-bad",
                                       "--reasons", "slow,attitude", "--comment", "等了很久"], in: dir)
            #expect(bad["screens"] as? [String] == ["why", "thanks"], "\(bad)")
            #expect(bad["error"] as? String == "", "\(bad)")
            records = try kiosk.records()
            #expect(records.count == 3, "\(records)")
            guard records.count == 3 else { return }
            let rating = records[1], reasons = records[2]
            #expect(Array(rating[1...3]) == ["rating", "5", "touch"] && rating[6] == "[]", "the level is committed alone: \(rating)")
            #expect(reasons[1] == "reasons" && reasons[4] == rating[5], "the follow-up names the rating: \(records)")
            #expect(reasons[6] == #"["slow","attitude"]"# && reasons[7] == "等了很久", "\(reasons)")
            // 跳过 on the reasons screen: the rating stays, alone.
            let skipped = try Self.browse(["touch", "\(kiosk.base)/touch/3", "4", prefix + "-skip"], in: dir)
            #expect(skipped["screens"] as? [String] == ["why", "thanks"], "\(skipped)")
            records = try kiosk.records()
            #expect(records.map { Array($0[1...2]) }.last == ["rating", "4"] && records.count == 4, "\(records)")
            let verify = try pingjia(["outbox", "verify"], state: kiosk.state)
            #expect(verify.status == 0, "\(verify)")
        }
    }

    @Test func theDisplayFollowsASessionAndAPauseLiveWithoutReloading() throws {
        try withTempDir { dir in
            let kiosk = try Kiosk(dir)
            defer { kiosk.stop() }
            let prefix = try Self.screenshots("display-live").path
            let seen = try Self.browse([
                "display-live", "\(kiosk.base)/display/4", prefix,
                "\(kiosk.base)/api/v1/windows/4/session", #"{"staffId":"A1024","caseNo":"2026-0042"}"#,
                "\(kiosk.base)/api/v1/windows/4/staff", #"{"staffId":"A1024","status":"paused"}"#,
            ], in: dir)
            #expect(seen["promptBefore"] as? String == "", "an armed window with no session asks nothing: \(seen)")
            #expect(seen["prompt"] as? String == "请您对我的服务进行评价", "\(seen)")
            #expect(seen["banner"] as? String == "暂停服务", "\(seen)")
            #expect(seen["reloads"] as? Int == 1, "server-sent events, not reloads: \(seen)")
            // Pausing kept the session of the staff member who paused: nothing went unrated.
            let records = try kiosk.records()
            #expect(records.isEmpty, "\(records)")
        }
    }
}

/// The daemon's own session clock: an armed session nobody rates becomes a 未评价 record in the
/// store, not just a log line.
@Suite struct SessionTimeoutDaemonTests {
    @Test func aSessionNobodyRatesIsStoredAsUnrated() throws {
        try withTempDir { dir in
            let kiosk = try BrowserTests.Kiosk(dir, window4Timeout: 1_000)
            defer { kiosk.stop() }
            let arm = try run(tool("python3"), ["-c", """
                import urllib.request
                r = urllib.request.Request("\(kiosk.base)/api/v1/windows/4/session", method="POST",
                    data=b'{"staffId":"A1024","caseNo":"2026-0042"}', headers={"Content-Type": "application/json"})
                print(urllib.request.urlopen(r, timeout=10).status)
                """], in: dir)
            #expect(arm.stdout == "201\n", "\(arm)")
            #expect(kiosk.daemon.waitFor("session timed out unrated (未评价)", timeout: 15), "\(kiosk.daemon.log)")
            let records = try kiosk.records()
            #expect(records.count == 1, "\(records)")
            #expect(records.first.map { Array($0[1...3]) } == ["unrated", "0", "touch"], "\(records)")
            let status = try pingjia(["outbox", "status"], state: kiosk.state)
            #expect(status.status == 0 && status.stdout.contains("1"), "\(status)")
        }
    }
}

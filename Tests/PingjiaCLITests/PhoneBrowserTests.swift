import Foundation
import PingjiaSyncProtocol
import Testing

/// The phone flow end to end: a real `pingjia-hub serve` with the hall's roster, a real `pingjiad`
/// enrolled with it, a session armed through the local API, the QR code read off a screenshot of
/// the window display with zbarimg, and that URL rated in headless Chromium at a 360×640 phone
/// viewport. (In `BrowserTests`, so it runs serialized in the browser leg of `make test`.)
extension BrowserTests {
    @Test func aPhoneRatesThroughTheScannedTransactionQRCodeExactlyOnce() throws {
        try withTempDir { dir in
            let hubDB = dir.appendingPathComponent("hub/hub.db")
            let (hub, hubURL) = try SyncCLITests.startHub(db: hubDB, in: dir)
            defer { hub.stop() }
            let roster = repoRoot.appendingPathComponent("demo/roster.csv").path
            let imported = try SyncCLITests.hubCLI(["roster", "import", "--hall", "市民中心", roster,
                                                    "--photos", repoRoot.appendingPathComponent("demo/photos").path], db: hubDB, in: dir)
            #expect(imported.status == 0 && imported.stdout.contains("+ A1024 李四, window 4"), "\(imported)")
            let added = try SyncCLITests.hubCLI(["devices", "add", "--hall", "市民中心", "--name", "4号窗口"], db: hubDB, in: dir)
            let code = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

            let state = try initialisedState(in: dir, roster: true)
            let enrolled = try pingjia(["enroll", "--hub", hubURL, "--code", code], state: state)
            #expect(enrolled.status == 0, "\(enrolled)")
            let port = try freePort()
            try Data("""
                [qr]
                url_template = "\(hubURL)/r/{deviceId}/{staffId}"
                token_minutes = 10

                [[window]]
                id = "4"
                mode = "armed"
                timeout_ms = 600000

                [web]
                listen = "127.0.0.1:\(port)"
                """.utf8).write(to: state.appendingPathComponent("pingjia.toml"))
            let daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            defer { daemon.stop() }
            guard daemon.waitFor("local web listening", timeout: 30) else { throw SupportError("pingjiad did not start:\n\(daemon.log)") }
            let kiosk = "http://127.0.0.1:\(port)"
            let device = try deviceId(of: state)

            // Nothing armed: the display shows the staff member's sticker link, without a token.
            let prefix = try Self.screenshots("phone").path
            _ = try Self.browse(["display-shot", "\(kiosk)/display/4", prefix + "-display-idle.png"], in: dir)
            let idle = try run(tool("zbarimg"), ["--raw", "-q", "--nodbus", "-Sbinary", prefix + "-display-idle.png"], in: dir)
            #expect(idle.stdout == "\(hubURL)/r/\(device)/A1024", "\(idle)")

            let arm = try run(tool("python3"), ["-c", """
                import urllib.request
                r = urllib.request.Request("\(kiosk)/api/v1/windows/4/session", method="POST",
                    data='{"staffId":"A1024","matterCode":"11000000000000000X4440111700001","caseNo":"2026-0042"}'.encode(),
                    headers={"Content-Type": "application/json"})
                print(urllib.request.urlopen(r, timeout=10).status)
                """], in: dir)
            #expect(arm.stdout == "201\n", "\(arm)")
            let shot = prefix + "-display-armed.png"
            _ = try Self.browse(["display-shot", "\(kiosk)/display/4", shot], in: dir)
            let decoded = try run(tool("zbarimg"), ["--raw", "-q", "--nodbus", "-Sbinary", shot], in: dir)
            #expect(decoded.status == 0, "no QR code in \(shot): \(decoded)")
            let url = decoded.stdout
            #expect(url.hasPrefix("\(hubURL)/r/\(device)/A1024?t="), "\(decoded)")
            let token = try RatingToken.decode(String(url.split(separator: "=", maxSplits: 1).last ?? "")).token
            #expect(token.deviceId == device && token.windowId == "4" && token.staffId == "A1024" && token.caseNo == "2026-0042")
            #expect(token.expiresAt - token.issuedAt == 600)

            let rated = try Self.browse(["phone-rate", url, "5", prefix + "-rate", "--reasons", "slow,attitude", "--comment", "等了很久"], in: dir)
            #expect(rated["name"] as? String == "李四" && rated["staffId"] as? String == "A1024", "\(rated)")
            #expect(rated["window"] as? String == "综合受理4号窗口", "\(rated)")
            #expect(rated["levels"] as? [String] == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"], "\(rated)")
            #expect(rated["viewport"] as? [Int] == [360, 640], "\(rated)")
            #expect((rated["scrollWidth"] as? Int ?? 999) <= 360, "no sideways scrolling: \(rated)")
            #expect(rated["photoWidth"] as? Int == 96, "the photo comes from the hub: \(rated)")
            #expect((rated["levelHeight"] as? Int ?? 0) >= 48, "touch targets: \(rated)")
            #expect(rated["thanks"] as? Bool == true, "\(rated)")
            let rows = try sqlite3(hubDB, """
                SELECT device_id || '|' || staff_id || '|' || window_id || '|' || case_no || '|' || code || '|' || reasons || '|'
                    || comment || '|' || source || '|' || token_nonce FROM phone_rating
                """).split(separator: "\n")
            #expect(rows == ["\(device)|A1024|4|2026-0042|5|[\"slow\",\"attitude\"]|等了很久|token|\(token.nonce)"], "\(rows)")

            // The same code again (a second scan, or a photo of the screen): refused, nothing stored.
            let again = try Self.browse(["phone-open", url, prefix + "-reused.png"], in: dir)
            #expect(again["refused"] as? String == "reusedToken" && again["heading"] as? String == "该事项已评价", "\(again)")
            #expect(again["form"] as? Bool == false, "\(again)")

            // A token the device signed an hour ago with ten minutes to live.
            let key = try SigningKey.load(path: state.appendingPathComponent("sync/device.key").path, create: false)
            let issued = Int64(Date().timeIntervalSince1970) - 3600
            let stale = RatingToken(deviceId: device, windowId: "4", staffId: "A1024", issuedAt: issued, expiresAt: issued + 600)
            let expired = try Self.browse(["phone-open", "\(hubURL)/r/\(device)/A1024?t=\(stale.encoded(signedWith: key))",
                                           prefix + "-expired.png"], in: dir)
            #expect(expired["refused"] as? String == "expiredToken" && expired["heading"] as? String == "评价码已过期", "\(expired)")
            #expect(try sqlite3(hubDB, "SELECT count(*) FROM phone_rating") == "1\n")
        }
    }
}

import Foundation
import PingjiaCore
@testable import PingjiaHub
import PingjiaSyncProtocol
import Testing

/// The fleet admin page over real HTTP behind the admin sign-in, and 差评 from both the kiosks
/// and the phone page raising alerts.
@Suite struct FleetAdminTests {
    static let password = "correct horse battery"

    @Test(arguments: Backend.all)
    func theFleetPageNeedsASignInAndShowsAManagerTheirHallOnly(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir, backend: backend)
            try await hub.start()
            let browsers = [TestBrowser(hub.url), TestBrowser(hub.url), TestBrowser(hub.url)]
            do {
                var east = try await StoredDevice.make(hub.storage, hall: "东城大厅", id: "pj-0000000000e1")
                var west = try await StoredDevice.make(hub.storage, hall: "西城大厅", id: "pj-0000000000w1")
                let at = DeviceTime.format(Date())
                _ = try await east.store([StoredDevice.rating(code: 5, at: at), StoredDevice.rating(code: 1, at: at)], in: hub.storage)
                _ = try await west.store([StoredDevice.rating(code: 4, at: at), StoredDevice.rating(code: 4, at: at, flags: [.test])],
                                         in: hub.storage)
                // A 差评 on the phone page (扫码评价) and a good one.
                for code in [5, 2] {
                    _ = try await hub.storage.storePhoneRating(PhoneRating(
                        hall: "东城大厅", deviceId: "pj-0000000000e1", staffId: "A1023", windowId: "3", matterCode: nil, caseNo: nil,
                        scale: "five", code: code, reasons: [], comment: nil, source: .sticker, tokenNonce: nil, client: "c\(code)",
                        ratedAt: Date()))
                }
                let evaluator = AlertEvaluator(hub: hub.hub, rules: AlertRules(), webhooks: [], logger: quietLogger)
                let events = try await evaluator.round(now: Date())
                let bad = events.filter { $0.alert.kind == "bad-rating" }
                #expect(bad.count == 3, "kiosk 5, kiosk 4 (not the flagged one), phone 5: \(bad.map(\.alert.detail))")
                #expect(bad.filter { $0.alert.detail.contains("phone") }.count == 1)
                #expect(try await evaluator.round(now: Date()).isEmpty, "each 差评 alerts once")

                try await addTestUser(hub.storage, "wang", role: .manager, hall: "东城大厅", password: Self.password)
                try await addTestUser(hub.storage, "zhao", role: .auditor, hall: nil, password: Self.password)
                let anonymous = try await browsers[0].get("/admin/fleet")
                #expect(anonymous.status == 303 && anonymous.header("Location").first?.hasPrefix("/admin/login") == true)

                _ = try await browsers[1].signIn("wang", Self.password)
                let manager = try await browsers[1].get("/admin/fleet")
                #expect(manager.status == 200)
                #expect(manager.body.contains("pj-0000000000e1") && !manager.body.contains("pj-0000000000w1"), "\(manager.body)")
                #expect(!manager.body.contains("西城大厅"), "a hall manager sees their hall only")
                #expect(manager.body.contains("差评") && manager.body.contains("设备状态"))
                // The hall comes from the session, not the query.
                let sneaky = try await browsers[1].get("/admin/fleet?hall=%E8%A5%BF%E5%9F%8E%E5%A4%A7%E5%8E%85&sort=outbox")
                #expect(sneaky.status == 200 && !sneaky.body.contains("pj-0000000000w1"))

                _ = try await browsers[2].signIn("zhao", Self.password)
                let auditor = try await browsers[2].get("/admin/fleet?sort=last-seen")
                #expect(auditor.body.contains("pj-0000000000e1") && auditor.body.contains("pj-0000000000w1"))
                let attention = try await browsers[2].get("/admin/fleet?attention=1")
                #expect(attention.body.contains("共 0 台"), "a 差评 alone needs no attention to the device")
            } catch {
                for browser in browsers { await browser.shutdown() }
                await hub.stop()
                throw error
            }
            for browser in browsers { await browser.shutdown() }
            await hub.stop()
        }
    }
}

import Foundation
import PingjiaConfig
import PingjiaCore
import PingjiaHub
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// A hub with one enrolled device whose hall has a roster: the set-up of every phone page test.
struct PhoneFixture {
    let hub: HubHarness
    let device: TestDevice
    let deviceKey: SigningKey
    static let hall = "测试大厅"
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + Array(repeating: 0, count: 24)

    static func start(_ dir: String, _ backend: Backend, settings: (inout HubSettings) -> Void = { _ in }) async throws -> PhoneFixture {
        let hub = HubHarness(directory: dir, backend: backend)
        try await hub.start(settings: settings)
        let device = try await enrolledDevice(dir, with: hub)
        let staff = [
            HubStaff(staff: Staff(id: "A1001", name: "张三", windowId: "3", photo: "a1001.png"), windowName: "3号窗口 社保"),
            HubStaff(staff: Staff(id: "A1002", name: "李四", windowId: "4"), windowName: "窗口 4"),
        ]
        _ = try await hub.storage.importHubRoster(hall: hall, staff: staff, photos: ["A1001": StaffPhoto(contentType: "image/png", bytes: png)],
                                                  replace: false, now: Date())
        let key = try SigningKey.load(path: Enrollment.keyFile(device.location), create: false)
        return PhoneFixture(hub: hub, device: device, deviceKey: key)
    }

    func token(staff: String = "A1001", device: String? = nil, issued: Date = Date(), lifetime: Int64 = 600,
               key: SigningKey? = nil, caseNo: String? = "BJ2026-0001") -> (text: String, nonce: String) {
        let seconds = Int64(issued.timeIntervalSince1970)
        let token = RatingToken(deviceId: device ?? self.device.deviceId, windowId: "3", staffId: staff, matterCode: "11000000000000000X4440111700001",
                                caseNo: caseNo, issuedAt: seconds, expiresAt: seconds + lifetime)
        return (token.encoded(signedWith: key ?? deviceKey), token.nonce)
    }

    func stop() async {
        device.close()
        await hub.stop()
    }
}

/// Hub storage of rosters and phone ratings, on both backends.
@Suite struct PhoneRatingStorageTests {
    @Test(arguments: Backend.all)
    func rosterImportAddsUpdatesRemovesAndKeepsPhotos(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let storage = try await backend.open(try backend.newDatabase(in: dir))
            let first = [
                HubStaff(staff: Staff(id: "A1", name: "张三", windowId: "3", photo: "a.png", matters: ["M1", "M2"]), windowName: "3号窗口"),
                HubStaff(staff: Staff(id: "A2", name: "李四", windowId: "4"), windowName: "窗口 4"),
            ]
            let photo = StaffPhoto(contentType: "image/png", bytes: PhoneFixture.png)
            #expect(try await storage.importHubRoster(hall: "东区", staff: first, photos: ["A1": photo], replace: false, now: Date())
                    == RosterImportSummary(added: 2, updated: 0, removed: 0))
            #expect(try await storage.hubRoster(hall: "东区") == first)
            #expect(try await storage.hubRoster(hall: "西区").isEmpty)
            #expect(try await storage.staffPhoto(hall: "东区", staffId: "A1") == photo)
            #expect(try await storage.staffPhoto(hall: "东区", staffId: "A2") == nil)

            let second = [HubStaff(staff: Staff(id: "A1", name: "张三丰", windowId: "5"), windowName: "5号窗口"),
                          HubStaff(staff: Staff(id: "A3", name: "王五", windowId: "6"), windowName: "窗口 6")]
            #expect(try await storage.importHubRoster(hall: "东区", staff: second, photos: [:], replace: true, now: Date())
                    == RosterImportSummary(added: 1, updated: 1, removed: 1))
            #expect(try await storage.hubRoster(hall: "东区").map(\.staff.id) == ["A1", "A3"])
            #expect(try await storage.hubStaff(hall: "东区", staffId: "A1")?.staff.name == "张三丰")
            #expect(try await storage.staffPhoto(hall: "东区", staffId: "A1") == nil, "a row without a photo drops the old one")

            #expect(try await storage.hallScale(hall: "东区") == nil)
            try await storage.setHallScale(hall: "东区", scale: "three")
            try await storage.setHallScale(hall: "东区", scale: "five")
            #expect(try await storage.hallScale(hall: "东区") == "five")
            await storage.close()
        }
    }

    @Test(arguments: Backend.all)
    func aTokenIsStoredOnceEvenWhenSubmittedConcurrently(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let fixture = try await PhoneFixture.start(dir, backend)
            let token = fixture.token()
            let hub = fixture.hub.hub!
            let deviceId = fixture.device.deviceId
            let outcomes = await withTaskGroup(of: Result<PhoneRating, PhoneRefusal>.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        await hub.ratePhone(PhoneSubmission(deviceId: deviceId, staffId: "A1001", token: token.text, level: 1 + index % 5,
                                                            reasons: [], comment: "第\(index)次", client: "c\(index)"))
                    }
                }
                var all: [Result<PhoneRating, PhoneRefusal>] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            let stored = outcomes.compactMap { try? $0.get() }
            #expect(stored.count == 1)
            for case .failure(let refusal) in outcomes { #expect(refusal.kind == .reusedToken && refusal.status == 409) }
            let rows = try await fixture.hub.storage.phoneRatings(hall: PhoneFixture.hall)
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            var same = try #require(stored.first)
            #expect(abs(same.ratedAt.timeIntervalSince(row.ratedAt)) < 0.001)
            same.ratedAt = row.ratedAt
            #expect(row == same, "the stored row is the rating returned")
            #expect(row.source == .token && row.tokenNonce == token.nonce && row.windowId == "3" && row.caseNo == "BJ2026-0001")
            #expect(row.matterCode == "11000000000000000X4440111700001" && row.scale == "five")
            #expect(try await fixture.hub.storage.isTokenUsed(nonce: token.nonce))
            #expect(try await fixture.hub.storage.isTokenUsed(nonce: "other") == false)
            // Sticker ratings have no nonce: any number of them may be stored.
            for _ in 0..<2 {
                let sticker = await hub.ratePhone(PhoneSubmission(deviceId: deviceId, staffId: "A1002", token: nil, level: 5,
                                                                  reasons: ["slow", "attitude", "slow"], comment: "  太慢了  ", client: "c"))
                let rating = try sticker.get()
                #expect(rating.source == .sticker && rating.code == 5 && rating.reasons == ["slow", "attitude"] && rating.comment == "太慢了")
                #expect(rating.windowId == "4" && rating.tokenNonce == nil)
            }
            #expect(try await fixture.hub.storage.phoneRatings(hall: nil).count == 3)
            #expect(try await fixture.hub.storage.phoneRatings(hall: "别的大厅").isEmpty)
            await fixture.stop()
        }
    }

    @Test(arguments: Backend.all)
    func theHallsScaleDecidesLevelsAndCodes(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let fixture = try await PhoneFixture.start(dir, backend)
            let hub = fixture.hub.hub!
            try await fixture.hub.storage.setHallScale(hall: PhoneFixture.hall, scale: "three")
            func rate(_ level: Int, _ reasons: [String] = []) async -> Result<PhoneRating, PhoneRefusal> {
                await hub.ratePhone(PhoneSubmission(deviceId: fixture.device.deviceId, staffId: "A1001", token: nil, level: level,
                                                    reasons: reasons, client: "c"))
            }
            // three: 满意 2, 一般 3, 不满意 4 (GB/T 39046 codes).
            #expect(try await rate(1, ["slow"]).get().code == 2)
            #expect(try await rate(1, ["slow"]).get().reasons == [], "reasons go with a bad rating only")
            #expect(try await rate(3, ["bribe"]).get().code == 4)
            if case .failure(let refusal) = await rate(4) { #expect(refusal.kind == .badLevel) } else { Issue.record("level 4 of three accepted") }
            if case .failure(let refusal) = await rate(3, ["nonsense"]) { #expect(refusal.kind == .badReason) } else {
                Issue.record("unknown reason accepted")
            }
            #expect(try await fixture.hub.storage.phoneRatings(hall: nil).map(\.scale) == ["three", "three", "three"])
            await fixture.stop()
        }
    }
}

/// The phone page over real HTTP on loopback: what a citizen's phone gets for every kind of
/// good and bad link.
@Suite struct PhonePageTests {
    static func form(_ fields: [(String, String)]) -> [UInt8] {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Array(fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&").utf8)
    }

    static func post(_ fixture: PhoneFixture, staff: String = "A1001", _ fields: [(String, String)]) async throws -> HubResponse {
        try await HubHTTPTests.send(fixture.hub, "POST", "/r/\(fixture.device.deviceId)/\(staff)",
                                    headers: [("Content-Type", "application/x-www-form-urlencoded")], body: form(fields))
    }

    static func text(_ response: HubResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    @Test(arguments: Backend.all)
    func thePageShowsStaffAndScaleAndATokenRatesOnce(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let fixture = try await PhoneFixture.start(dir, backend)
            let token = fixture.token()
            let path = "/r/\(fixture.device.deviceId)/A1001"
            let page = try await HubHTTPTests.send(fixture.hub, "GET", path + "?t=" + token.text, body: nil)
            #expect(page.status == 200)
            let html = Self.text(page)
            for expected in ["张三", "A1001", "3号窗口 社保", "非常满意", "非常不满意", "办理速度慢", "办件编号 BJ2026-0001",
                             "name=\"t\" value=\"\(token.text)\"", "src=\"A1001/photo\"", "action=\"A1001\"", "maxlength=\"200\""] {
                #expect(html.contains(expected), "missing \(expected)")
            }
            #expect(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"), "no script, nothing from elsewhere")
            let photo = try await HubHTTPTests.send(fixture.hub, "GET", path + "/photo", body: nil)
            #expect(photo.status == 200 && photo.body == PhoneFixture.png)
            #expect(try await HubHTTPTests.send(fixture.hub, "GET", "/r/\(fixture.device.deviceId)/A1002/photo", body: nil).status == 404)

            let rated = try await Self.post(fixture, [("t", token.text), ("level", "4"), ("reason", "slow"), ("comment", "等了一个小时")])
            #expect(rated.status == 200 && Self.text(rated).contains("谢谢您的评价"))
            let again = try await Self.post(fixture, [("t", token.text), ("level", "1")])
            #expect(again.status == 409 && Self.text(again).contains("该事项已评价"))
            let reopened = try await HubHTTPTests.send(fixture.hub, "GET", path + "?t=" + token.text, body: nil)
            #expect(reopened.status == 409 && Self.text(reopened).contains("一事一评"))
            let rows = try await fixture.hub.storage.phoneRatings(hall: nil)
            #expect(rows.count == 1)
            #expect(rows.first?.code == 4 && rows.first?.reasons == ["slow"] && rows.first?.comment == "等了一个小时")
            #expect(rows.first?.client.count == 32 && rows.first?.client.contains("127.0.0.1") == false, "a hash, not the address")
            await fixture.stop()
        }
    }

    @Test(arguments: Backend.all)
    func forgedExpiredAndMisdirectedTokensAreRefusedWithAClearPage(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let fixture = try await PhoneFixture.start(dir, backend)
            let deviceId = fixture.device.deviceId
            func get(_ path: String) async throws -> HubResponse { try await HubHTTPTests.send(fixture.hub, "GET", path, body: nil) }
            let forged = fixture.token(key: SigningKey())
            let expired = fixture.token(issued: Date().addingTimeInterval(-3600), lifetime: 600)
            let otherStaff = fixture.token(staff: "A1002")
            let otherDevice = fixture.token(device: "pj-000000000000")
            // One character of the signature changed: still well-formed, no longer the device's.
            var tampered = Array(fixture.token().text)
            let at = tampered.count - 20
            tampered[at] = tampered[at] == "A" ? "B" : "A"
            let cases: [(String, Int, String)] = [
                ("/r/\(deviceId)/A1001?t=\(forged.text)", 403, "评价码无效"),
                ("/r/\(deviceId)/A1001?t=\(String(tampered))", 403, "评价码无效"),
                ("/r/\(deviceId)/A1001?t=\(expired.text)", 410, "评价码已过期"),
                ("/r/\(deviceId)/A1001?t=\(otherStaff.text)", 403, "评价码与工作人员不符"),
                ("/r/\(deviceId)/A1001?t=\(otherDevice.text)", 403, "评价码与设备不符"),
                ("/r/\(deviceId)/A1001?t=garbage", 400, "二维码无法识别"),
                ("/r/\(deviceId)/NOBODY", 404, "找不到该工作人员"),
                ("/r/pj-unknown/A1001", 404, "找不到该评价设备"),
            ]
            for (path, status, title) in cases {
                let response = try await get(path)
                #expect(response.status == status, "\(path)")
                #expect(Self.text(response).contains(title), "\(path): \(Self.text(response).prefix(300))")
                let posted = try await HubHTTPTests.send(fixture.hub, "POST", String(path.split(separator: "?")[0]),
                                                         headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                                         body: Self.form((path.split(separator: "?").count > 1
                                                                         ? [("t", String(path.split(separator: "=", maxSplits: 1)[1]))] : [])
                                                                        + [("level", "1")]))
                #expect(posted.status == status, "POST \(path)")
            }
            #expect(try await fixture.hub.storage.phoneRatings(hall: nil).isEmpty, "nothing refused was stored")
            await fixture.stop()
        }
    }

    @Test func badFormsAreRefusedAndStickerRatingsAreRateLimitedPerClient() async throws {
        try await withTempDirectory { dir in
            let fixture = try await PhoneFixture.start(dir, .sqlite) { $0.stickerRatingsPerHour = 3 }
            let token = fixture.token()
            let long = String(repeating: "慢", count: Hub.maxCommentCharacters + 1)
            let tooLong = try await Self.post(fixture, [("t", token.text), ("level", "5"), ("comment", long)])
            #expect(tooLong.status == 422 && Self.text(tooLong).contains("留言太长"))
            let noLevel = try await Self.post(fixture, [("t", token.text)])
            #expect(noLevel.status == 422 && Self.text(noLevel).contains("请选择评价等级"))
            let badLevel = try await Self.post(fixture, [("t", token.text), ("level", "9")])
            #expect(badLevel.status == 422)
            let badReason = try await Self.post(fixture, [("t", token.text), ("level", "5"), ("reason", "<script>")])
            #expect(badReason.status == 422 && !Self.text(badReason).contains("<script>"))
            let huge = try await HubHTTPTests.send(fixture.hub, "POST", "/r/\(fixture.device.deviceId)/A1001",
                                                   headers: [("Content-Type", "application/x-www-form-urlencoded")],
                                                   body: Array(repeating: UInt8(ascii: "a"), count: 64 * 1024))
            #expect(huge.status == 413)
            // The token is still good after all those refusals.
            let fine = try await Self.post(fixture, [("t", token.text), ("level", "5"), ("comment", String(repeating: "慢", count: 200))])
            #expect(fine.status == 200)

            // Stickers: 3 an hour from this address; a spoofed peer header changes nothing.
            var statuses: [Int] = []
            for index in 0..<5 {
                let response = try await HubHTTPTests.send(fixture.hub, "POST", "/r/\(fixture.device.deviceId)/A1002",
                                                           headers: [("Content-Type", "application/x-www-form-urlencoded"),
                                                                     ("X-Pingjia-Peer", "10.0.0.\(index)")],
                                                           body: Self.form([("level", "2")]))
                statuses.append(response.status)
                if response.status == 429 { #expect(Self.text(response).contains("提交太频繁")) }
            }
            #expect(statuses == [200, 200, 200, 429, 429])
            let rows = try await fixture.hub.storage.phoneRatings(hall: nil)
            #expect(rows.filter { $0.source == .sticker }.count == 3)
            #expect(Set(rows.map(\.client)).count == 1, "one client address, one hash")
            #expect(rows.count == 4)
            await fixture.stop()
        }
    }

    @Test func behindAProxyTheLimitIsPerAddressTheProxyReports() async throws {
        try await withTempDirectory { dir in
            let fixture = try await PhoneFixture.start(dir, .sqlite) {
                $0.stickerRatingsPerHour = 1
                $0.clientAddressHeader = "X-Real-IP"
            }
            var statuses: [Int] = []
            for address in ["203.0.113.7", "203.0.113.8", "203.0.113.7", "198.51.100.1, 203.0.113.8"] {
                let response = try await HubHTTPTests.send(fixture.hub, "POST", "/r/\(fixture.device.deviceId)/A1002",
                                                           headers: [("Content-Type", "application/x-www-form-urlencoded"),
                                                                     ("X-Real-IP", address)],
                                                           body: Self.form([("level", "1")]))
                statuses.append(response.status)
            }
            #expect(statuses == [200, 200, 429, 429], "the last entry is the one the proxy wrote")
            #expect(Set(try await fixture.hub.storage.phoneRatings(hall: nil).map(\.client)).count == 2)
            await fixture.stop()
        }
    }
}

import Foundation
import PingjiaCore
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// 未评价 records and reasons follow-ups travel from a real device store to a real hub over
/// HTTP like ratings, are stored with their kind, and are exported apart from ratings.
@Suite struct RecordKindSyncTests {
    @Test(arguments: Backend.all)
    func unratedAndReasonsRecordsSyncAndExportApartFromRatings(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir, backend: backend)
            let token = "export-token-0123456789"
            try await hub.start { $0.exportToken = token }
            let device = try await enrolledDevice(dir, with: hub)
            defer { device.close() }
            let now = DeviceTime(wallClock: "2026-11-24T10:44:00.123+08:00", monotonicNs: 5_000_000_000)
            let bad = try device.store.append(NewRating(staffId: "A1023", windowId: "3", channel: .touch, scale: "five", level: 5,
                                                        code: SatisfactionCode(rawValue: 5)!, ratedAt: now.wallClock,
                                                        monotonicNs: now.monotonicNs))
            try device.store.append(.unrated(staffId: "A1023", windowId: "3", caseNo: "C-9", channel: .keypad, scale: "five", at: now))
            let followUp = try device.store.appendReasons(to: bad.rating.id, reasons: ["slow", "attitude"], comment: "等了很久",
                                                          channel: .touch, at: now, windowNs: 60_000_000_000)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)

            #expect(try await hub.storage.verifyChain(deviceId: device.deviceId) == .intact(count: 3, lastSeq: 3))
            let stored = try await hub.storage.exportRecords(after: 0, limit: 10).map(\.record)
            #expect(stored.map(\.rating.kind) == [.rating, .unrated, .reasons])
            #expect(stored[2].rating.refersTo == bad.rating.id && stored[2].hash == followUp.hash)
            #expect(stored[1].rating.code == nil && stored[1].rating.level == 0)

            struct Page: Decodable {
                struct Item: Decodable { let cursor: Int64; let kind: String; let fields: [String: String]? }
                let items: [Item]
            }
            let response = try await HubHTTPTests.send(hub, "GET", "/v1/export?after=0&limit=10",
                                                       headers: [("Authorization", "Bearer \(token)")], body: nil)
            let page = try JSONDecoder().decode(Page.self, from: Data(response.body))
            #expect(page.items.map(\.kind) == ["rating", "unrated", "reasons"])
            let rating = try #require(page.items[0].fields)
            let unrated = try #require(page.items[1].fields)
            let reasons = try #require(page.items[2].fields)
            #expect(rating["满意度代码"] == "5" && rating["差评原因"] == nil)
            #expect(unrated["满意度代码"] == nil && unrated["满意度"] == nil, "未评价 has no satisfaction: \(unrated)")
            #expect(unrated["办件编号"] == "C-9" && unrated["评价渠道"] == "3")
            #expect(reasons["评价编号"] == bad.rating.id.uuidString.lowercased(), "a follow-up names the rating it completes")
            #expect(reasons["差评原因"] == "办理速度慢;服务态度差" && reasons["评价内容"] == "等了很久")
            await hub.stop()
        }
    }
}

@Suite struct RecordKindWireTests {
    static let now = DeviceTime(wallClock: "2026-11-24T10:44:00.123+08:00", monotonicNs: 7)

    static func chain() -> [RatingRecord] {
        let rating = NewRating(staffId: "A1023", windowId: "3", channel: .touch, scale: "five", level: 4,
                               code: SatisfactionCode(rawValue: 4)!, ratedAt: now.wallClock, monotonicNs: 7)
        let unrated = NewRating.unrated(staffId: "A1023", windowId: "3", channel: .keypad, scale: "five", at: now)
        let reasons = NewRating.reasons(for: rating, reasons: ["slow"], comment: nil, channel: .touch, at: now)
        var previous = ChainHash.genesis
        return [rating, unrated, reasons].enumerated().map { index, item in
            let record = RatingRecord(seq: UInt64(index + 1), deviceId: "pj-0123456789ab", rating: item, prevHash: previous)
            previous = record.hash
            return record
        }
    }

    @Test func aRatingTravelsWithoutTheNewFields() throws {
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(WireRecord(Self.chain()[0]))) as? [String: Any]
        #expect(json?["kind"] == nil && json?["refersTo"] == nil, "older hubs and devices read a rating unchanged: \(json ?? [:])")
        let unrated = try JSONSerialization.jsonObject(with: JSONEncoder().encode(WireRecord(Self.chain()[1]))) as? [String: Any]
        #expect(unrated?["kind"] as? String == "unrated" && unrated?["code"] as? Int == 0)
    }

    @Test func aMixedChainVerifiesInASignedBatch() throws {
        let key = SigningKey()
        let records = Self.chain()
        let batch = Batch(records: records, deviceId: "pj-0123456789ab", sentAt: "t", key: key)
        let decoded = try JSONDecoder().decode(Batch.self, from: JSONEncoder().encode(batch))
        #expect(try decoded.verify(with: key.publicKey).get() == records)
    }

    @Test func inconsistentKindFieldsAreNamed() {
        var wire = WireRecord(Self.chain()[2])
        wire.refersTo = nil
        #expect(wire.record().failureField == "refersTo")
        wire = WireRecord(Self.chain()[1])
        wire.code = 3
        #expect(wire.record().failureField == "code")
        wire = WireRecord(Self.chain()[0])
        wire.kind = "praise"
        #expect(wire.record().failureField == "kind")
    }
}

extension Result where Failure == WireProblem {
    var failureField: String? {
        if case .failure(let problem) = self { return problem.field }
        return nil
    }
}

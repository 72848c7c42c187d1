import Foundation
import HummingbirdTesting
import PingjiaCore
import PingjiaKiosk
import Testing

/// 未评价 records and reasons follow-ups: committed to a real SQLite store, over real HTTP on
/// loopback where a page or a queue system would send them.
@Suite struct FollowUpTests {
    static let openW03 = "[[window]]\nid = \"W03\"\nmode = \"open\"\n"

    /// Commits a level through the touch endpoint and returns the rating's id.
    func rate(_ client: any TestClientProtocol, level: Int) async throws -> String {
        let response = try await client.post("/api/v1/windows/W03/rating", json: #"{"level":\#(level)}"#)
        #expect(response.status == .created, "\(response.text)")
        return try #require(try response.object["id"] as? String)
    }

    @Test func aTimedOutSessionIsStoredAsAnUnratedRecordAndCounted() async throws {
        let clock = MovableClock()
        let web = try WebKiosk(sessionClock: clock)
        try web.sessions.arm(windowId: "W03", staffId: "A1023", matterCode: "M-11", caseNo: "C-7", source: .api)
        clock.advance(seconds: 11)   // past the default 10 s
        let events = web.sessions.takeEvents()
        #expect(events.count == 1)
        for case .timedOut(let session) in events { try web.kiosk.recordUnrated(session) }
        let records = try web.kiosk.store.records(after: 0)
        let unrated = try #require(records.first?.rating)
        #expect(records.count == 1)
        #expect(unrated.kind == .unrated && unrated.level == 0 && unrated.code == nil)
        #expect(unrated.staffId == "A1023" && unrated.windowId == "W03" && unrated.matterCode == "M-11" && unrated.caseNo == "C-7")
        #expect(unrated.channel == .touch, "no keypad is paired with W03")
        #expect(!unrated.countsInStatistics)
        #expect(try web.kiosk.store.verifyChain() == .intact(count: 1, lastSeq: 1, headHash: records[0].hash.hex))
        try await web.withServer { client in
            let page = try await client.get("/metrics").text
            #expect(page.contains(#"pingjia_unrated_total{window="W03"} 1"#), "\(page)")
            #expect(!page.contains("pingjia_ratings_total{"), "未评价 is not a rating: \(page)")
        }
    }

    @Test func reasonsFollowTheCommittedRatingAsALinkedRecord() async throws {
        let web = try WebKiosk(config: Self.openW03, sessionClock: FrozenClock())
        try await web.withServer { client in
            let response = try await client.post("/api/v1/windows/W03/rating", json: #"{"level":5}"#)
            #expect(response.status == .created, "\(response.text)")
            let object = try response.object
            #expect(object["bad"] as? Bool == true)
            let id = try #require(object["id"] as? String)
            // The rating is on disk before any reasons: a citizen who walks away loses nothing.
            #expect(try web.kiosk.store.records(after: 0).count == 1)
            let reasons = try await client.post("/api/v1/ratings/\(id)/reasons",
                                                json: #"{"reasons":["slow","attitude"],"comment":" 等了很久 "}"#)
            #expect(reasons.status == .created, "\(reasons.text)")
            #expect(try reasons.object["refersTo"] as? String == id)
        }
        let records = try web.kiosk.store.records(after: 0)
        #expect(records.count == 2)
        let rating = records[0].rating
        let followUp = records[1].rating
        #expect(rating.kind == .rating && rating.reasons.isEmpty && rating.comment == nil && rating.level == 5)
        #expect(followUp.kind == .reasons && followUp.refersTo == rating.id)
        #expect(followUp.reasons == ["slow", "attitude"] && followUp.comment == "等了很久")
        #expect(followUp.staffId == "A1023" && followUp.windowId == "W03" && followUp.level == 5 && followUp.code == rating.code)
        #expect(!followUp.countsInStatistics)
        #expect(try web.kiosk.store.followUp(of: rating.id)?.seq == 2)
        guard case .intact(count: 2, _, _) = try web.kiosk.store.verifyChain() else {
            Issue.record("the chain with a follow-up must verify")
            return
        }
    }

    @Test func aRefusedFollowUpIsAProblemWithItsOwnStatus() async throws {
        let clock = MovableClock()
        let web = try WebKiosk(config: Self.openW03, sessionClock: FrozenClock(), kioskClock: clock)
        try await web.withServer { client in
            let bad = try await rate(client, level: 4)
            let good = try await rate(client, level: 1)
            func reasons(_ id: String, _ body: String = #"{"reasons":["slow"]}"#) async throws -> (Int, String?) {
                let response = try await client.post("/api/v1/ratings/\(id)/reasons", json: body)
                #expect(response.headers[.contentType]?.hasPrefix("application/problem+json") == true || response.status == .created)
                return (Int(response.status.code), try response.object["field"] as? String)
            }
            let unknown = try await reasons(UUID().uuidString.lowercased())
            #expect(unknown == (404, "path.id"))
            let notUUID = try await reasons("not-a-uuid")
            #expect(notUUID == (404, "path.id"))
            let onGood = try await reasons(good)
            #expect(onGood == (422, "path.id"), "reasons follow bad ratings only")
            let unknownReason = try await reasons(bad, #"{"reasons":["nope"]}"#)
            #expect(unknownReason == (422, "body.reasons[0]"))
            let twice = try await reasons(bad, #"{"reasons":["slow","slow"]}"#)
            #expect(twice == (422, "body.reasons"))
            let empty = try await reasons(bad, #"{"reasons":[],"comment":"  "}"#)
            #expect(empty == (422, "body"), "an empty follow-up would use up the rating's one")
            let accepted = try await reasons(bad)
            #expect(accepted.0 == 201)
            let again = try await reasons(bad)
            #expect(again == (409, "path.id"), "one follow-up per rating")
            let late = try await rate(client, level: 5)
            clock.advance(seconds: KioskContext.followUpWindowNs / 1_000_000_000 + 1)
            let tooLate = try await reasons(late)
            #expect(tooLate == (410, "path.id"))
        }
        // Three ratings and the one accepted follow-up; nothing else was stored.
        let kinds = try web.kiosk.store.records(after: 0).map(\.rating.kind)
        #expect(kinds == [.rating, .rating, .reasons, .rating])
    }

    @Test func theStoreRefusesASecondFollowUpEvenPastTheChecks() throws {
        let web = try WebKiosk()
        let rating = try web.kiosk.rate(staffId: "A1023", level: 5, channel: .touch)
        let now = DeviceTime(wallClock: "2026-11-24T10:00:00.000+08:00", monotonicNs: rating.rating.monotonicNs)
        let first = NewRating.reasons(for: rating.rating, reasons: ["slow"], comment: nil, channel: .touch, at: now)
        try web.kiosk.store.append(first)
        let second = NewRating.reasons(for: rating.rating, reasons: ["other"], comment: nil, channel: .touch, at: now)
        #expect(throws: (any Error).self, "the unique index on refers_to") { try web.kiosk.store.append(second) }
        #expect(try web.kiosk.store.records(after: 0).count == 2)
    }
}

import Foundation
import PingjiaCore
import Testing

/// The touch page and its rating endpoint over real HTTP on loopback, committing to real SQLite.
@Suite struct TouchTests {
    @Test func thePageHasTheScaleLevelsReasonsAndPostsToTheWindow() async throws {
        let web = try WebKiosk()
        try await web.withServer { client in
            let response = try await client.get("/touch/W03")
            #expect(response.status == .ok)
            let page = response.text
            for (value, label) in [(1, "非常满意"), (5, "非常不满意")] {
                #expect(page.contains(#"data-level="\#(value)""#) && page.contains(label), "\(page)")
            }
            #expect(page.contains(#"class="level bad" data-level="5" data-bad="true""#), "\(page)")
            #expect(page.contains(#"class="level" data-level="1" data-bad="false""#), "\(page)")
            #expect(page.contains(#"<input type="checkbox" value="slow">"#), "\(page)")
            #expect(page.contains("/api/v1/windows/W03/rating") && page.contains("张三") && page.contains("谢谢您的评价"), "\(page)")
            // A bad level's reasons follow the committed rating; the citizen may skip them.
            #expect(page.contains("/api/v1/ratings/") && page.contains("/reasons") && page.contains("跳过"), "\(page)")
        }
    }

    @Test func aBadRatingWithReasonsAndCommentIsOneTouchRecord() async throws {
        let web = try WebKiosk(config: "[[window]]\nid = \"W03\"\nmode = \"open\"\n", sessionClock: FrozenClock())
        try await web.withServer { client in
            let response = try await client.post("/api/v1/windows/W03/rating",
                                                 json: #"{"level":5,"reasons":["slow","attitude"],"comment":"  等了很久  "}"#)
            #expect(response.status == .created, "\(response.text)")
            let object = try response.object
            #expect(object["seq"] as? Int == 1 && object["staffId"] as? String == "A1023", "\(object)")
        }
        let records = try web.kiosk.store.records(after: 0)
        #expect(records.count == 1)
        let rating = try #require(records.first?.rating)
        #expect(rating.channel == .touch && rating.level == 5 && rating.staffId == "A1023" && rating.windowId == "W03")
        #expect(rating.reasons == ["slow", "attitude"] && rating.comment == "等了很久")
        #expect(rating.flags.isEmpty, "\(rating.flags)")
        // The session engine saw it: the window shows 谢谢 (session time is frozen, so it has not expired).
        #expect(web.sessions.windowState("W03").phase.rawValue == "thanks")
    }

    @Test func anArmedWindowWithoutASessionKeepsTheRatingFlaggedUnarmed() async throws {
        let web = try WebKiosk()
        try await web.withServer { client in
            let response = try await client.post("/api/v1/windows/W03/rating", json: #"{"level":1}"#)
            #expect(response.status == .created, "\(response.text)")
            #expect(try response.object["flags"] as? [String] == ["unarmed"], "\(response.text)")
        }
    }

    /// The one error vocabulary: a body that does not parse is 400, one that does not fit the
    /// scale is 422, as for the follow-up route; each names the field.
    @Test(arguments: [
        (#"{"reasons":[]}"#, 400, "body.level"),
        (#"{"level":"5"}"#, 400, "body.level"),
        (#"{"level":9}"#, 422, "body.level"),
        (#"{"level":5,"reasons":["slow","nope"]}"#, 422, "body.reasons[1]"),
        (#"{"level":1,"reasons":["slow"]}"#, 422, "body.reasons"),
        (#"{"level":5,"reasons":["slow","slow"]}"#, 422, "body.reasons"),
        (#"{"level":5,"comment":"\#(String(repeating: "长", count: 301))"}"#, 422, "body.comment"),
    ])
    func malformedRatingsGetAProblemNamingTheField(body: String, status: Int, field: String) async throws {
        let web = try WebKiosk(config: "[[window]]\nid = \"W03\"\nmode = \"open\"\n")
        try await web.withServer { client in
            let response = try await client.post("/api/v1/windows/W03/rating", json: body)
            #expect(Int(response.status.code) == status, "\(response.text)")
            #expect(response.headers[.contentType]?.hasPrefix("application/problem+json") == true)
            #expect(try response.object["field"] as? String == field, "\(response.text)")
        }
        #expect(try web.kiosk.store.records(after: 0).isEmpty)
        // A refused body decides nothing: the window shows no 谢谢 and no press was counted.
        #expect(web.sessions.windowState("W03").phase.rawValue == "idle")
    }

    /// Someone signed in at the window who is not (or no longer) in the roster: the touch rating is
    /// kept without staff, flagged `unarmed`, as a key press would be, not refused.
    @Test func aRatingForAStaffMemberNotInTheRosterIsKeptFlagged() async throws {
        let web = try WebKiosk(config: "[[window]]\nid = \"W03\"\nmode = \"open\"\n", sessionClock: FrozenClock())
        try web.sessions.setStaff(windowId: "W03", staffId: "Z9999", status: .signedIn)
        try await web.withServer { client in
            let response = try await client.post("/api/v1/windows/W03/rating", json: #"{"level":2}"#)
            #expect(response.status == .created, "\(response.text)")
            #expect(try response.object["flags"] as? [String] == ["unarmed"], "\(response.text)")
        }
        let rating = try #require(try web.kiosk.store.records(after: 0).first?.rating)
        #expect(rating.staffId == nil && rating.windowId == "W03" && rating.flags == [.unarmed] && rating.channel == .touch)
        #expect(web.sessions.windowState("W03").phase.rawValue == "thanks")
    }
}

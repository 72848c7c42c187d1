import Foundation
import HummingbirdTesting
import PingjiaKiosk
import Testing

@Suite struct LocalAPITests {
    @Test func armingASessionOverHTTPIsTheSessionAKeyPressRates() async throws {
        let kiosk = try WebKiosk()
        try await kiosk.withServer { client in
            let armed = try await client.post("/api/v1/windows/W03/session",
                                              json: #"{"staffId":"A1023","matterCode":"11100000000000000001","caseNo":"2026-0042"}"#)
            #expect(armed.status == .created, "\(armed.text)")
            #expect(try armed.object["staffId"] as? String == "A1023")
            let state = try await client.get("/api/v1/windows/W03")
            #expect(try state.object["phase"] as? String == "armed")
            // The engine behind the API is the one the devices use.
            let press = kiosk.sessions.press(windowId: "W03", pairedStaff: nil)
            #expect(press.flags.isEmpty)
            #expect(press.caseNo == "2026-0042" && press.matterCode == "11100000000000000001")
        }
    }

    @Test func staffStatusOverHTTPFlagsPressesWhilePaused() async throws {
        let kiosk = try WebKiosk(config: "[session]\nmode = \"open\"\n")
        try await kiosk.withServer { client in
            let signin = try await client.post("/api/v1/windows/W03/staff", json: #"{"staffId":"A1024","status":"signed-in"}"#)
            #expect(signin.status == .ok, "\(signin.text)")
            #expect(try signin.object["status"] as? String == "signed-in")
            let pause = try await client.post("/api/v1/windows/W03/staff", json: #"{"status":"paused"}"#)
            #expect(try pause.object["staffId"] as? String == "A1024")
            let press = kiosk.sessions.press(windowId: "W03", pairedStaff: "A1023")
            #expect(press.staffId == "A1024")
            #expect(press.flags == [.paused])
        }
    }

    @Test(arguments: [
        ("/api/v1/windows/W03/session", "{\"staffId\":", 400, "body"),
        ("/api/v1/windows/W03/session", "[1,2]", 400, "body"),
        ("/api/v1/windows/W03/session", #"{"staffId":42}"#, 400, "body.staffId"),
        ("/api/v1/windows/W03/session", #"{"staffId":"NOBODY"}"#, 422, "body.staffId"),
        ("/api/v1/windows/W09/session", #"{}"#, 409, "body.staffId"),
        ("/api/v1/windows/W03/session", #"{"staffId":"A1023","caseNo":""}"#, 400, "body.caseNo"),
        ("/api/v1/windows/W03/staff", #"{"staffId":"A1023"}"#, 400, "body.status"),
        ("/api/v1/windows/W03/staff", #"{"staffId":"A1023","status":"asleep"}"#, 400, "body.status"),
        ("/api/v1/windows/W%2003/staff", #"{"status":"paused"}"#, 400, "path.window"),
    ])
    func malformedRequestsGetAProblemNamingTheField(uri: String, body: String, status: Int, field: String) async throws {
        let kiosk = try WebKiosk()
        try await kiosk.withServer { client in
            let response = try await client.post(uri, json: body)
            #expect(response.status.code == status, "\(response.text)")
            #expect(response.headers[.contentType]?.hasPrefix("application/problem+json") == true)
            let problem = try response.object
            #expect(problem["field"] as? String == field, "\(problem)")
            #expect((problem["detail"] as? String)?.isEmpty == false)
            #expect(problem["status"] as? Int == status)
        }
    }

    @Test func anUnknownRouteIsAProblemToo() async throws {
        let kiosk = try WebKiosk()
        try await kiosk.withServer { client in
            let response = try await client.get("/api/v1/nothing")
            #expect(response.status == .notFound)
            #expect(try response.object["title"] as? String == "no such page")
        }
    }

    @Test func healthzReportsTheStoreAndTheLastUSBEvent() async throws {
        let kiosk = try WebKiosk()
        try await kiosk.withServer { client in
            let before = try await client.get("/healthz")
            #expect(before.status == .ok)
            #expect(try before.object["store"] as? String == "writable")
            #expect(try before.object["lastUsbEvent"] == nil)
            kiosk.health.usbEvent()
            let after = try await client.get("/healthz")
            #expect(try (after.object["lastUsbEvent"] as? String)?.isEmpty == false)
        }
    }

    @Test func healthzFailsWhenTheStateDirectoryIsGone() async throws {
        // Moving the directory away keeps the open store working but leaves nowhere to write;
        // unlike a chmod, root cannot ignore it.
        let kiosk = try WebKiosk()
        let moved = kiosk.dir.appendingPathExtension("moved")
        try FileManager.default.moveItem(at: kiosk.dir, to: moved)
        defer { try? FileManager.default.moveItem(at: moved, to: kiosk.dir) }
        try await kiosk.withServer { client in
            let response = try await client.get("/healthz")
            #expect(response.status == .serviceUnavailable, "\(response.text)")
            #expect(try response.object["store"] as? String == "failing")
            #expect(try (response.object["storeProblem"] as? String)?.contains("not writable") == true)
        }
    }
}

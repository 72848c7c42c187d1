import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import PingjiaCore
@testable import PingjiaHub
import Testing

/// A browser's part in the admin tests: keeps cookies, never follows redirects.
final class TestBrowser: @unchecked Sendable {
    struct Page {
        let status: Int
        let headers: [(String, String)]
        let body: String
        func header(_ name: String) -> [String] { headers.filter { $0.0.lowercased() == name.lowercased() }.map(\.1) }
    }

    let base: String
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    var cookies: [String: String] = [:]

    init(_ base: String) { self.base = base }

    func shutdown() async { try? await client.shutdown() }

    func get(_ path: String) async throws -> Page { try await send("GET", path) }

    func post(_ path: String, form: [String: String]) async throws -> Page {
        let body = form.map { AdminAuth.formEncode($0.key) + "=" + AdminAuth.formEncode($0.value) }.joined(separator: "&")
        return try await send("POST", path, body: Array(body.utf8), contentType: "application/x-www-form-urlencoded")
    }

    func send(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil,
              headers extra: [(String, String)] = []) async throws -> Page {
        var request = HTTPClientRequest(url: base + path)
        request.method = .init(rawValue: method)
        if !cookies.isEmpty { request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        for value in response.headers["Set-Cookie"] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pair[0]), cookie = pair.count > 1 ? String(pair[1]) : ""
            if value.contains("Max-Age=0") || cookie.isEmpty { cookies[name] = nil } else { cookies[name] = cookie }
        }
        return Page(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
                    body: String(buffer: bytes))
    }

    /// The value of a hidden field in the last page, e.g. the CSRF token.
    static func hidden(_ name: String, in html: String) -> String? {
        guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    func signIn(_ name: String, _ password: String) async throws -> Page {
        let login = try await get("/admin/login")
        let token = Self.hidden("_csrf", in: login.body) ?? ""
        return try await post("/admin/login", form: ["_csrf": token, "name": name, "password": password, "next": ""])
    }
}

/// The admin pages over real HTTP on loopback: sign-in, CSRF, roles and halls, session expiry, logout.
@Suite struct AdminHTTPTests {
    static let password = "correct horse battery"

    /// A hub with two halls' 差评 and a manager of each hall plus an auditor.
    func withHub(_ backend: Backend, _ body: (HubHarness, TestClock, [Int64]) async throws -> Void) async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir, backend: backend)
            let clock = TestClock(Date())
            hub.now = { clock.now }
            try await hub.start { settings in
                settings.workflow = (try? CaseWorkflowConfig.parse(text: testWorkflowConfig, file: "t")) ?? .empty
            }
            do {
                var east = try await StoredDevice.make(hub.storage, hall: "东城大厅", id: "pj-0000000000e1")
                var west = try await StoredDevice.make(hub.storage, hall: "西城大厅", id: "pj-0000000000w1")
                let at = DeviceTime.format(clock.now)
                try await east.store([StoredDevice.rating(code: 5, at: at)], in: hub.storage)
                try await west.store([StoredDevice.rating(code: 4, at: at)], in: hub.storage)
                try await addTestUser(hub.storage, "wang", role: .manager, hall: "东城大厅", password: Self.password)
                try await addTestUser(hub.storage, "li", role: .manager, hall: "西城大厅", password: Self.password)
                try await addTestUser(hub.storage, "zhao", role: .auditor, hall: nil, password: Self.password)
                let ids = try await CaseWorkflow(storage: hub.storage, config: .empty).list(for: AdminUser(name: "t", role: .auditor, hall: nil))
                    .sorted { $0.entry.hall < $1.entry.hall }.map(\.entry.id)   // 东城 first
                try await body(hub, clock, ids)
            } catch {
                await hub.stop()
                throw error
            }
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func signInCSRFHallsExpiryAndLogout(_ backend: Backend) async throws {
        try await withHub(backend) { hub, clock, ids in
            let (east, west) = (ids[0], ids[1])
            let browser = TestBrowser(hub.url)
            defer { Task { await browser.shutdown() } }

            // Not signed in: pages send to the login page, the API answers 401.
            let anonymous = try await browser.get("/admin/cases")
            #expect(anonymous.status == 303 && anonymous.header("Location").first?.hasPrefix("/admin/login") == true)
            #expect(try await browser.get("/v1/admin/cases").status == 401)

            // A wrong password is refused and starts no session.
            let wrong = try await browser.signIn("wang", "wrong password!")
            #expect(wrong.status == 401 && wrong.body.contains("用户名或密码错误"))
            #expect(browser.cookies[AdminAuth.sessionCookie] == nil)
            #expect(try await browser.signIn("nobody", Self.password).status == 401)
            // A login form not from our login page (no login cookie) is refused.
            browser.cookies = [:]
            #expect(try await browser.post("/admin/login", form: ["_csrf": "x", "name": "wang", "password": Self.password]).status == 403)

            // The right password: a session cookie, HttpOnly and SameSite=Strict.
            let signedIn = try await browser.signIn("wang", Self.password)
            #expect(signedIn.status == 303)
            let cookie = signedIn.header("Set-Cookie").first { $0.hasPrefix(AdminAuth.sessionCookie + "=") } ?? ""
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"))
            let list = try await browser.get("/admin/cases")
            #expect(list.status == 200 && list.body.contains("/admin/cases/\(east)") && !list.body.contains("/admin/cases/\(west)"))

            // POST without, and with a wrong, CSRF token: refused, nothing changes.
            let detail = try await browser.get("/admin/cases/\(east)")
            #expect(detail.status == 200 && detail.body.contains("核实"))
            let csrf = try #require(TestBrowser.hidden("_csrf", in: detail.body))
            let verify = ["action": "verify", "verdict": "valid", "note": "调取录像，属实"]
            #expect(try await browser.post("/admin/cases/\(east)/actions", form: verify).status == 403)
            #expect(try await browser.post("/admin/cases/\(east)/actions", form: verify.merging(["_csrf": "x" + csrf]) { $1 }).status == 403)
            let json = try JSONEncoder().encode(CaseInput(action: .verify, note: "x", verdict: .valid))
            #expect(try await browser.send("POST", "/v1/admin/cases/\(east)/actions", body: Array(json), contentType: "application/json").status == 403)
            #expect(try await hub.storage.caseEntry(id: east)?.state == .pending)
            // With the token: done.
            let done = try await browser.post("/admin/cases/\(east)/actions", form: verify.merging(["_csrf": csrf]) { $1 })
            #expect(done.status == 303)
            #expect(try await hub.storage.caseEntry(id: east)?.state == .verified)
            // An illegal transition: 409 naming what is allowed (page and API).
            let illegal = try await browser.post("/admin/cases/\(east)/actions", form: ["_csrf": csrf, "action": "close", "note": "x"])
            #expect(illegal.status == 409 && illegal.body.contains("当前可执行：整改、员工申诉"))
            let session = try await browser.get("/v1/admin/session")
            #expect(session.status == 200 && session.body.contains(#""csrfToken":"\#(csrf)""#) && session.body.contains(#""role":"manager""#))
            let illegalAPI = try await browser.send("POST", "/v1/admin/cases/\(east)/actions", body: Array(#"{"action":"close"}"#.utf8),
                                                    contentType: "application/json", headers: [("X-CSRF-Token", csrf)])
            #expect(illegalAPI.status == 409 && illegalAPI.body.contains(#""allowed":["rectify","appeal"]"#))

            // Another hall's case: 403 to read (page and API) and to act.
            #expect(try await browser.get("/admin/cases/\(west)").status == 403)
            #expect(try await browser.get("/v1/admin/cases/\(west)").status == 403)
            #expect(try await browser.get("/admin/cases?hall=%E8%A5%BF%E5%9F%8E%E5%A4%A7%E5%8E%85").status == 403)
            let foreign = try await browser.post("/admin/cases/\(west)/actions", form: ["_csrf": csrf, "action": "verify", "verdict": "valid", "note": "x"])
            #expect(foreign.status == 403)
            #expect(try await hub.storage.caseEntry(id: west)?.state == .pending)

            // The auditor sees both halls.
            let auditor = TestBrowser(hub.url)
            defer { Task { await auditor.shutdown() } }
            #expect(try await auditor.signIn("zhao", Self.password).status == 303)
            let all = try await auditor.get("/v1/admin/cases")
            #expect(all.status == 200 && all.body.contains("东城大厅") && all.body.contains("西城大厅"))

            // Sessions expire (8 hours by default): back to the login page.
            clock.advance(8 * 3600 + 1)
            #expect(try await browser.get("/admin/cases").status == 303)
            #expect(try await auditor.get("/v1/admin/cases").status == 401)

            // Logout ends the session on the server: the old cookie no longer works.
            #expect(try await browser.signIn("wang", Self.password).status == 303)
            let page = try await browser.get("/admin/cases")
            let token = try #require(TestBrowser.hidden("_csrf", in: page.body))
            let saved = browser.cookies
            #expect(try await browser.post("/admin/logout", form: ["_csrf": token]).status == 303)
            #expect(browser.cookies[AdminAuth.sessionCookie] == nil)
            browser.cookies = saved
            #expect(try await browser.get("/admin/cases").status == 303)
        }
    }

    @Test(arguments: Backend.all)
    func reportsShowTheUsersHallWithADailyTrend(_ backend: Backend) async throws {
        try await withHub(backend) { hub, clock, _ in
            let today = LocalDay(clock.now).text
            let browser = TestBrowser(hub.url)
            defer { Task { await browser.shutdown() } }
            #expect(try await browser.signIn("wang", Self.password).status == 303)
            let page = try await browser.get("/admin/reports?by=day")
            #expect(page.status == 200 && page.body.contains("<svg") && page.body.contains(today))
            let api = try await browser.get("/v1/admin/reports?from=\(today)&to=\(today)")
            let report = try JSONDecoder().decode(Report.self, from: Data(api.body.utf8))
            // The manager's report is of their hall: one 差评, not yet verified.
            #expect(report.hall == "东城大厅" && report.total.ratings == 1 && report.total.bad.unverified == 1)
            #expect(report.total.badRate.percent == "100.00")
            #expect(try await browser.get("/v1/admin/reports?hall=%E8%A5%BF%E5%9F%8E%E5%A4%A7%E5%8E%85").status == 403)
            #expect(try await browser.get("/v1/admin/reports?from=2026-13-01").status == 422)
            let auditor = TestBrowser(hub.url)
            defer { Task { await auditor.shutdown() } }
            #expect(try await auditor.signIn("zhao", Self.password).status == 303)
            let all = try JSONDecoder().decode(Report.self, from: Data(try await auditor.get("/v1/admin/reports?by=staff").body.utf8))
            #expect(all.hall == nil && all.total.ratings == 2 && all.lines.map(\.key) == ["A1001"])
        }
    }

    @Test(arguments: Backend.all)
    func removingAUserOrChangingTheirPasswordEndsTheirSessions(_ backend: Backend) async throws {
        try await withHub(backend) { hub, _, _ in
            let manager = TestBrowser(hub.url), auditor = TestBrowser(hub.url)
            defer { Task { await manager.shutdown(); await auditor.shutdown() } }
            #expect(try await manager.signIn("wang", Self.password).status == 303)
            #expect(try await auditor.signIn("zhao", Self.password).status == 303)
            try await hub.storage.setPassword(name: "wang", passwordHash: try AdminPassword.hash("another password", rounds: 1000), now: Date())
            #expect(try await manager.get("/v1/admin/cases").status == 401)
            #expect(try await manager.signIn("wang", Self.password).status == 401)
            #expect(try await auditor.get("/v1/admin/cases").status == 200)
            try await hub.storage.removeUser(name: "zhao")
            #expect(try await auditor.get("/v1/admin/cases").status == 401)
            #expect(try await hub.storage.adminUsers().map(\.name) == ["li", "wang"])
        }
    }

    @Test func theAuditTrailIsAppendOnly() async throws {
        try await withHub(.sqlite) { hub, _, ids in
            let workflow = CaseWorkflow(storage: hub.storage, config: .empty)
            try await workflow.apply(id: ids[0], CaseInput(action: .verify, note: "属实", verdict: .valid),
                                     by: AdminUser(name: "wang", role: .manager, hall: "东城大厅"))
            let storage = try #require(hub.storage as? SQLiteHubStorage)
            #expect(throws: (any Error).self) { try storage.pool.write { db in try db.execute(sql: "UPDATE case_event SET actor = 'x'") } }
            #expect(throws: (any Error).self) { try storage.pool.write { db in try db.execute(sql: "DELETE FROM case_event") } }
            #expect(try await hub.storage.caseEvents(id: ids[0]).map(\.actor) == ["wang"])
        }
    }

    @Test func tooManyLoginAttemptsAreSlowedDown() async throws {
        try await withHub(.sqlite) { hub, _, _ in
            let browser = TestBrowser(hub.url)
            defer { Task { await browser.shutdown() } }
            var statuses: [Int] = []
            for _ in 0..<7 { statuses.append(try await browser.signIn("wang", "not the password").status) }
            #expect(statuses.prefix(5).allSatisfy { $0 == 401 })
            #expect(statuses.last == 429)
            // Even the right password waits now.
            #expect(try await browser.signIn("wang", Self.password).status == 429)
        }
    }

    @Test func passwordsAreSaltedSlowHashes() throws {
        let one = try AdminPassword.hash("correct horse battery", rounds: 1000)
        let two = try AdminPassword.hash("correct horse battery", rounds: 1000)
        #expect(one != two && one.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(AdminPassword.verify("correct horse battery", against: one))
        #expect(!AdminPassword.verify("correct horse batterY", against: one))
        #expect(!AdminPassword.verify("correct horse battery", against: "plain"))
        #expect(try AdminPassword.hash("x").hasPrefix("pbkdf2-sha256$600000$"))
    }
}

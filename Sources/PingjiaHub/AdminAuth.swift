import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PingjiaCore

/// A signed-in admin user as pages see it.
public struct AdminUser: Sendable, Equatable {
    public let name: String
    public let role: AdminUserRecord.Role
    /// A hall manager's hall; nil for an auditor (every hall).
    public let hall: String?

    /// Managers see their own hall only; auditors see every hall.
    public func maySee(hall other: String) -> Bool {
        role == .auditor || hall == other
    }
}

/// What a handler registered through `AdminAuth` receives besides the request.
public struct AdminContext: Sendable {
    public let user: AdminUser
    /// The session's CSRF token: put it into every POST form (`AdminPage.csrfField`).
    public let csrfToken: String
    /// A POST's form fields (application/x-www-form-urlencoded), CSRF already checked.
    public let form: [String: String]
    /// A POST's raw body (for JSON API requests), CSRF already checked.
    public let body: [UInt8]
    let tokenDigest: String
}

/// The hub's one admin sign-in: users with hashed passwords, server-side sessions behind an
/// HttpOnly SameSite=Strict cookie, a CSRF token per session on every POST, and a login rate
/// limit. Other files register their admin pages through `page`/`api`; the handler runs only
/// for a signed-in user and gets an `AdminContext`.
public final class AdminAuth: Sendable {
    public static let sessionCookie = "pingjia_session"
    static let loginCookie = "pingjia_login"

    public let hub: Hub
    let secureCookie: Bool
    let sessionLifetime: TimeInterval
    /// Per user name and over all names: guessing is slow even across many names.
    let perUser: RateLimiter
    let overall: RateLimiter

    public init(hub: Hub, settings: HubSettings) {
        self.hub = hub
        secureCookie = settings.adminSecureCookie
        sessionLifetime = TimeInterval(settings.adminSessionMinutes * 60)
        perUser = RateLimiter(rate: settings.loginsPerMinutePerUser / 60, burst: 5)
        overall = RateLimiter(rate: settings.loginsPerMinutePerUser / 6, burst: 30)
    }

    var storage: any HubStorage { hub.storage }

    public enum Kind: Sendable {
        /// HTML: not signed in → redirect to the login page; a refusal is a page.
        case page
        /// JSON: not signed in → 401 problem; a refusal is a problem body. POSTs carry the CSRF
        /// token in the X-CSRF-Token header.
        case api
    }

    /// Registers a route that needs a signed-in user. POSTs are refused (403) without the
    /// session's CSRF token.
    public func register(_ method: HTTPRequest.Method, _ path: RouterPath, on router: Router<BasicRequestContext>, kind: Kind = .page,
                         _ handler: @escaping @Sendable (Request, BasicRequestContext, AdminContext) async throws -> Response) {
        router.on(path, method: method) { request, context -> Response in
            guard let session = try await self.currentSession(request) else {
                switch kind {
                case .page:
                    let next = request.method == .get ? "?next=" + Self.formEncode(request.uri.description) : ""
                    return AdminPage.redirect(to: "/admin/login" + next)
                case .api:
                    return problem(.init(type: "unauthorized", title: "Not signed in", status: 401,
                                         detail: "sign in at /admin/login and send the session cookie"))
                }
            }
            var form: [String: String] = [:]
            var body: [UInt8] = []
            if method == .post {
                var request = request
                guard let buffer = try? await request.collectBody(upTo: 64 * 1024) else {
                    return Self.refuse(kind, 413, "请求内容过大", admin: nil)
                }
                body = Array(buffer: buffer)
                let sent: String?
                if request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true {
                    form = Self.parseForm(String(decoding: body, as: UTF8.self))
                    sent = form["_csrf"]
                } else {
                    sent = request.headers[HTTPField.Name("X-CSRF-Token")!]
                }
                guard let sent, constantTimeEqual(sent, session.csrfToken) else {
                    return Self.refuse(kind, 403, "安全校验失败（CSRF 令牌缺失或错误）：请重新打开页面后再提交", admin: nil)
                }
            }
            let admin = AdminContext(user: AdminUser(name: session.user.name, role: session.user.role, hall: session.user.hall),
                                     csrfToken: session.csrfToken, form: form, body: body, tokenDigest: session.digest)
            return try await handler(request, context, admin)
        }
    }

    static func refuse(_ kind: Kind, _ status: Int, _ text: String, admin: AdminContext?) -> Response {
        switch kind {
        case .page: AdminPage.message(status, title: "无法完成", text: text, admin: admin)
        case .api: problem(.init(type: status == 403 ? "forbidden" : "http-\(status)", title: "Refused", status: status, detail: text))
        }
    }

    struct Session {
        let user: AdminUserRecord
        let csrfToken: String
        let digest: String
    }

    func currentSession(_ request: Request) async throws -> Session? {
        guard let token = request.cookies[Self.sessionCookie]?.value, !token.isEmpty, token.utf8.count <= 128 else { return nil }
        let digest = Self.digest(token)
        guard let record = try await storage.session(tokenDigest: digest, now: hub.now()) else { return nil }
        return Session(user: record.user, csrfToken: record.csrfToken, digest: digest)
    }

    // MARK: - Sign in and out

    /// The login page, `POST /admin/login`, `POST /admin/logout` and `/admin`.
    func registerLogin(on router: Router<BasicRequestContext>, logger: Logger) {
        router.get("/admin") { _, _ in AdminPage.redirect(to: "/admin/cases") }

        router.get("/admin/login") { request, _ -> Response in
            if try await self.currentSession(request) != nil { return AdminPage.redirect(to: "/admin/cases") }
            let next = request.uri.queryParameters.get("next") ?? ""
            return self.loginPage(status: 200, next: next, error: nil)
        }

        router.post("/admin/login") { request, _ -> Response in
            var request = request
            guard let buffer = try? await request.collectBody(upTo: 16 * 1024) else {
                return self.loginPage(status: 413, next: "", error: "请求内容过大")
            }
            let form = Self.parseForm(String(buffer: buffer))
            let next = form["next"] ?? ""
            // Login CSRF: the form must come from our own login page (double-submit cookie).
            guard let sent = form["_csrf"], let cookie = request.cookies[Self.loginCookie]?.value, !cookie.isEmpty,
                  constantTimeEqual(sent, cookie) else {
                return self.loginPage(status: 403, next: next, error: "安全校验失败：请刷新登录页后重试")
            }
            let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            let password = form["password"] ?? ""
            guard self.overall.allow("all"), self.perUser.allow(name) else {
                logger.warning("admin login rate-limited", metadata: ["user": "\(name)"])
                return self.loginPage(status: 429, next: next, error: "登录尝试过于频繁，请稍后再试")
            }
            let user = try await self.storage.adminUser(name: name)
            // PBKDF2 takes a good part of a second by design: off the server's event loops and
            // off Swift's cooperative pool, whose threads every other request needs meanwhile.
            let stored = user?.passwordHash
            let matches = await runBlocking {
                guard let stored else {
                    AdminPassword.verifyNothing(password)
                    return false
                }
                return AdminPassword.verify(password, against: stored)
            }
            guard let user else {
                logger.notice("admin login refused", metadata: ["user": "\(name)", "reason": "unknown user"])
                return self.loginPage(status: 401, next: next, error: "用户名或密码错误")
            }
            guard matches else {
                logger.notice("admin login refused", metadata: ["user": "\(name)", "reason": "wrong password"])
                return self.loginPage(status: 401, next: next, error: "用户名或密码错误")
            }
            let token = Self.randomToken()
            let now = self.hub.now()
            try await self.storage.deleteSessions(userName: nil, expiredBefore: now)
            try await self.storage.createSession(tokenDigest: Self.digest(token), userName: user.name, csrfToken: Self.randomToken(),
                                                 createdAt: now, expiresAt: now.addingTimeInterval(self.sessionLifetime))
            logger.notice("admin signed in", metadata: ["user": "\(user.name)"])
            var response = AdminPage.redirect(to: Self.safeNext(next))
            response.headers.append(HTTPField(name: .setCookie, value: self.cookie(Self.sessionCookie, token, path: "/", maxAge: Int(self.sessionLifetime))))
            response.headers.append(HTTPField(name: .setCookie, value: self.cookie(Self.loginCookie, "", path: "/admin/login", maxAge: 0)))
            return response
        }

        // Who is signed in, and the CSRF token a JSON client sends back in X-CSRF-Token.
        register(.get, "/v1/admin/session", on: router, kind: .api) { _, _, admin in
            json(200, SessionBody(name: admin.user.name, role: admin.user.role.rawValue, hall: admin.user.hall, csrfToken: admin.csrfToken))
        }

        register(.post, "/admin/logout", on: router) { _, _, admin in
            try await self.storage.deleteSession(tokenDigest: admin.tokenDigest)
            var response = AdminPage.redirect(to: "/admin/login")
            response.headers.append(HTTPField(name: .setCookie, value: self.cookie(Self.sessionCookie, "", path: "/", maxAge: 0)))
            return response
        }
    }

    struct SessionBody: Encodable {
        let name: String
        let role: String
        let hall: String?
        let csrfToken: String
    }

    func loginPage(status: Int, next: String, error: String?) -> Response {
        let token = Self.randomToken()
        let body = """
            \(error.map { "<div class=\"error\">\(AdminPage.escape($0))</div>" } ?? "")
            <form method="post" action="/admin/login" class="action">
            <input type="hidden" name="_csrf" value="\(token)">
            <input type="hidden" name="next" value="\(AdminPage.escape(next))">
            <p><label>用户名 <input name="name" autocomplete="username" required></label></p>
            <p><label>密码 <input name="password" type="password" autocomplete="current-password" required></label></p>
            <p><button type="submit">登录</button></p>
            </form>
            """
        var response = AdminPage.response(status, AdminPage.render(title: "登录", admin: nil, body: body))
        response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.loginCookie, token, path: "/admin/login", maxAge: 3600)))
        return response
    }

    func cookie(_ name: String, _ value: String, path: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=\(path); Max-Age=\(maxAge); HttpOnly; SameSite=Strict" + (secureCookie ? "; Secure" : "")
    }

    /// Only a path of this hub's admin pages: never another site.
    static func safeNext(_ next: String) -> String {
        guard next.hasPrefix("/admin/"), !next.hasPrefix("//"), !next.contains("\\"), !next.hasPrefix("/admin/login") else {
            return "/admin/cases"
        }
        return next
    }

    static func randomToken() -> String {
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Forms

    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]) else { continue }
            fields[name] = parts.count > 1 ? decode(parts[1]) ?? "" : ""
        }
        return fields
    }

    private static func decode(_ part: Substring) -> String? {
        part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    public static func formEncode(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTPTypes
import PingjiaCore

/// The phone page behind every staff QR code: `GET /r/{deviceId}/{staffId}[?t=TOKEN]` shows who
/// served and the hall's scale, `POST` to the same path stores the rating (`Hub.ratePhone`), and
/// `/photo` serves the staff photo from the hub's roster. Plain HTML forms (no script needed),
/// inline CSS, nothing loaded from elsewhere.
func registerPhoneRoutes(on router: Router<BasicRequestContext>, hub: Hub, settings: HubSettings, logger: Logger) {
    // Sticker ratings have no transaction behind them: a bucket per client address keeps one
    // phone from filling a staff member's record.
    let stickerLimiter = RateLimiter(rate: settings.stickerRatingsPerHour / 3600, burst: max(1, settings.stickerRatingsPerHour))

    router.get("/r/:device/:staff") { request, context -> Response in
        let (deviceId, staffId) = (context.parameters.get("device") ?? "", context.parameters.get("staff") ?? "")
        let token = request.uri.queryParameters.get("t")
        switch await hub.phoneContext(deviceId: deviceId, staffId: staffId, token: token) {
        case .success(let found): return PhoneHTML.response(200, PhoneHTML.ratingPage(found, token: token))
        case .failure(let refusal): return PhoneHTML.response(refusal.status, PhoneHTML.refusalPage(refusal))
        }
    }

    router.get("/r/:device/:staff/photo") { _, context -> Response in
        let (deviceId, staffId) = (context.parameters.get("device") ?? "", context.parameters.get("staff") ?? "")
        let found: StaffPhoto?
        do {
            let device = try await hub.storage.device(id: deviceId)
            found = device?.status == .active ? try await hub.storage.staffPhoto(hall: device!.hall, staffId: staffId) : nil
        } catch {
            logger.error("staff photo unreadable", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            return PhoneHTML.response(503, PhoneHTML.refusalPage(.of(.unavailable)), retryAfter: true)
        }
        guard let photo = found else {
            return PhoneHTML.response(404, PhoneHTML.refusalPage(.of(.unknownStaff)))
        }
        return Response(status: .ok, headers: [.contentType: photo.contentType, .cacheControl: "private, max-age=300"],
                        body: .init(byteBuffer: ByteBuffer(bytes: photo.bytes)))
    }

    router.post("/r/:device/:staff") { request, context -> Response in
        let (deviceId, staffId) = (context.parameters.get("device") ?? "", context.parameters.get("staff") ?? "")
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: PhoneHTML.maxFormBytes) } catch {
            return PhoneHTML.response(413, PhoneHTML.refusalPage(.of(.commentTooLong)))
        }
        let form = FormFields(String(buffer: body))
        let address = PhoneHTML.clientAddress(request, proxyHeader: settings.clientAddressHeader)
        let client = hub.clientHash(address)
        let token = form.first("t").flatMap { $0.isEmpty ? nil : $0 }
        if token == nil, !stickerLimiter.allow(client) {
            logger.notice("sticker rating refused: rate limit", metadata: ["client": "\(client)", "device": "\(deviceId)"])
            return PhoneHTML.response(429, PhoneHTML.refusalPage(.of(.rateLimited)), retryAfter: true)
        }
        let submission = PhoneSubmission(deviceId: deviceId, staffId: staffId, token: token, level: form.first("level").flatMap { Int($0) },
                                         reasons: form.all("reason"), comment: form.first("comment"), client: client)
        switch await hub.ratePhone(submission) {
        case .success(let rating): return PhoneHTML.response(200, PhoneHTML.thanksPage(rating))
        case .failure(let refusal): return PhoneHTML.response(refusal.status, PhoneHTML.refusalPage(refusal))
        }
    }
}

/// Fields of an `application/x-www-form-urlencoded` body, in order (a name may repeat).
struct FormFields {
    let pairs: [(String, String)]

    init(_ text: String) {
        pairs = text.split(separator: "&").map { part in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            return (decode(pieces[0]), pieces.count > 1 ? decode(pieces[1]) : "")
        }
    }

    func first(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }
}

/// Puts the connection's peer address into each request as `X-Pingjia-Peer`, replacing whatever
/// a client sent under that name: Hummingbird's basic request context does not carry it, and the
/// phone page's rate limit and `client` hash need it.
final class PeerAddressHandler: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    static let header = HTTPField.Name("X-Pingjia-Peer")!

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        head.headerFields[Self.header] = context.channel.remoteAddress?.ipAddress ?? "unknown"
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

/// The phone pages' HTML: Chinese, one column for a 360 px wide screen, touch targets of at least
/// 56 px, system fonts, no script and nothing fetched from another host.
enum PhoneHTML {
    static let maxFormBytes = 16 * 1024

    /// The phone's address: from the proxy's header when one is configured (its last entry, the one
    /// the proxy itself wrote), else the connection's peer.
    static func clientAddress(_ request: Request, proxyHeader: String?) -> String {
        if let proxyHeader, let name = HTTPField.Name(proxyHeader), let value = request.headers[name],
           let last = value.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty {
            return last
        }
        return request.headers[PeerAddressHandler.header] ?? "unknown"
    }

    static func response(_ status: Int, _ html: String, retryAfter: Bool = false) -> Response {
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'",
        ]
        if retryAfter { headers[.retryAfter] = "60" }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func escape(_ text: String) -> String { AdminPage.escape(text) }

    static let style = """
    *{box-sizing:border-box}
    body{margin:0;background:#f4f6f8;color:#1a1a1a;font:18px/1.5 "Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",sans-serif}
    main{max-width:480px;margin:0 auto;padding:16px}
    h1{font-size:22px;margin:8px 0 16px;text-align:center}
    .who{display:flex;gap:16px;align-items:center;background:#fff;border-radius:12px;padding:16px}
    .who img,.who .initial{width:88px;height:110px;border-radius:8px;object-fit:cover;flex:none}
    .who .initial{display:flex;align-items:center;justify-content:center;background:#0d47a1;color:#fff;font-size:40px}
    .name{font-size:24px;font-weight:700}
    fieldset{border:0;margin:16px 0 0;padding:0}
    legend{font-weight:700;margin-bottom:8px}
    .level,.reason{display:flex;align-items:center;gap:12px;min-height:56px;margin:8px 0;padding:8px 16px;
      background:#fff;border:2px solid #cfd8dc;border-radius:12px;font-size:20px}
    .level input,.reason input{width:24px;height:24px;margin:0}
    .level:has(input:checked){border-color:#0d47a1;background:#e3f2fd}
    .level.bad:has(input:checked){border-color:#c62828;background:#ffebee}
    .reason:has(input:checked){border-color:#c62828}
    form:not(:has(.bad input:checked)) .reasons{display:none}
    textarea{width:100%;min-height:88px;font:inherit;padding:8px;border:2px solid #cfd8dc;border-radius:12px}
    button{width:100%;min-height:56px;margin:16px 0;font:inherit;font-size:20px;font-weight:700;color:#fff;
      background:#0d47a1;border:0;border-radius:12px}
    .note{color:#555;font-size:15px}
    .done{text-align:center;padding:48px 16px}
    .done .mark{font-size:64px;color:#2e7d32}
    .refused .mark{color:#c62828}
    """

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(style)</style></head>
        <body><main>
        \(body)
        </main></body></html>
        """
    }

    static func ratingPage(_ context: PhoneContext, token: String?) -> String {
        let e = escape
        let staff = context.staff.staff
        // Relative to the page (/r/{deviceId}/{staffId}), so the page also works behind a proxy
        // that serves the hub under a path prefix.
        let base = e(staff.id)
        let picture = staff.photo == nil
            ? "<div class=\"initial\" aria-hidden=\"true\">\(e(String(staff.name.prefix(1))))</div>"
            : "<img src=\"\(base)/photo\" alt=\"\(e(staff.name))的照片\">"
        let levels = context.scale.levels.map { level in
            """
            <label class="level\(level.isBad ? " bad" : "")"><input type="radio" name="level" value="\(level.value)" required> \(e(level.label))</label>
            """
        }.joined(separator: "\n")
        let reasons = context.scale.reasons.map { reason in
            "<label class=\"reason\"><input type=\"checkbox\" name=\"reason\" value=\"\(e(reason.code))\"> \(e(reason.label))</label>"
        }.joined(separator: "\n")
        let transaction = context.token.map { token in
            [token.matterCode.map { "事项编码 \(e($0))" }, token.caseNo.map { "办件编号 \(e($0))" }].compactMap { $0 }.joined(separator: "，")
        } ?? ""
        let tokenField = token.map { "<input type=\"hidden\" name=\"t\" value=\"\(e($0))\">" } ?? ""
        return page(title: "服务评价", body: """
            <h1>请您对我的服务进行评价</h1>
            <div class="who">\(picture)
            <div><div class="name" id="staff-name">\(e(staff.name))</div>
            <div>工号 <span id="staff-id">\(e(staff.id))</span></div>
            <div><span id="window-name">\(e(context.staff.windowName))</span></div></div></div>
            \(transaction.isEmpty ? "" : "<p class=\"note\" id=\"transaction\">\(transaction)</p>")
            <form method="post" action="\(base)">
            \(tokenField)
            <fieldset><legend>\(e(context.scale.title))</legend>
            \(levels)
            </fieldset>
            <fieldset class="reasons"><legend>不满意的原因（可多选）</legend>
            \(reasons)
            </fieldset>
            <fieldset><legend>留言（选填，最多 \(Hub.maxCommentCharacters) 字）</legend>
            <textarea name="comment" maxlength="\(Hub.maxCommentCharacters)" placeholder="请输入您的意见或建议"></textarea>
            </fieldset>
            <button type="submit" id="submit">提交评价</button>
            </form>
            <p class="note">\(context.token == nil ? "本评价针对该工作人员的服务。" : "本二维码仅限本次办事评价一次（一事一评）。")</p>
            """)
    }

    static func thanksPage(_ rating: PhoneRating) -> String {
        page(title: "谢谢您的评价", body: """
            <div class="done" id="thanks"><div class="mark">✓</div>
            <h1>谢谢您的评价</h1>
            <p>您的评价已提交。\(rating.code >= 4 ? "我们将核实您反映的问题并及时回复。" : "欢迎再次光临。")</p></div>
            """)
    }

    static func refusalPage(_ refusal: PhoneRefusal) -> String {
        page(title: refusal.title, body: """
            <div class="done refused" id="refused" data-kind="\(escape(refusal.kind.rawValue))"><div class="mark">!</div>
            <h1>\(escape(refusal.title))</h1>
            <p>\(escape(refusal.detail))</p></div>
            """)
    }
}

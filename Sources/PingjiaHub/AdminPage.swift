import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PingjiaCore

/// The admin pages' shared layout: server-rendered Chinese HTML with inline CSS, no scripts and
/// no external assets. Every admin page (cases, reports, fleet, configuration) goes through
/// `AdminPage.render`, so they share the header, the navigation and the logout form.
public enum AdminPage {
    /// The navigation bar; pages of other features add themselves here with one line.
    public static let navigation: [(path: String, title: String)] = [
        ("/admin/cases", "差评工单"),
        ("/admin/reports", "统计报表"),
        ("/admin/fleet", "设备状态"),
        ("/admin/config", "远程配置"),
    ]

    /// A whole page. `body` is HTML the caller built with `escape` around every value.
    /// `admin` nil renders the page for someone not signed in (the login page).
    public static func render(title: String, admin: AdminContext?, body: String) -> String {
        var nav = ""
        if let admin {
            let links = navigation.map { "<a href=\"\($0.path)\">\(escape($0.title))</a>" }.joined(separator: " ")
            let scope = admin.user.hall.map { "（\(escape($0))）" } ?? "（全部大厅）"
            nav = """
                <nav>\(links)
                <span class="who">\(escape(admin.user.name)) · \(admin.user.role == .auditor ? "审核员" : "大厅负责人")\(scope)</span>
                <form method="post" action="/admin/logout" class="inline">\(csrfField(admin))<button type="submit">退出登录</button></form>
                </nav>
                """
        }
        return """
            <!DOCTYPE html>
            <html lang="zh-CN">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · 好差评管理</title>
            <style>
            body { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; margin: 0; color: #222; background: #f6f7f9; }
            header { background: #b71c1c; color: #fff; padding: 0.6em 1em; font-size: 1.2em; }
            nav { background: #fff; border-bottom: 1px solid #ddd; padding: 0.5em 1em; }
            nav a { margin-right: 1.2em; color: #b71c1c; text-decoration: none; font-weight: bold; }
            nav .who { color: #555; margin-right: 1em; }
            main { padding: 1em; max-width: 1200px; }
            table { border-collapse: collapse; background: #fff; width: 100%; }
            th, td { border: 1px solid #ddd; padding: 0.35em 0.6em; text-align: left; vertical-align: top; }
            th { background: #eee; }
            td.num { text-align: right; font-variant-numeric: tabular-nums; }
            .overdue { color: #b71c1c; font-weight: bold; }
            .error { background: #fde8e8; border: 1px solid #b71c1c; padding: 0.6em; margin: 0.6em 0; }
            .notice { background: #e8f4fd; border: 1px solid #1565c0; padding: 0.6em; margin: 0.6em 0; }
            form.inline { display: inline; }
            form.action { background: #fff; border: 1px solid #ddd; padding: 0.6em; margin: 0.6em 0; }
            label { margin-right: 1em; }
            textarea { width: 100%; min-height: 3em; }
            button { padding: 0.3em 1em; }
            </style>
            </head>
            <body>
            <header>好差评管理 · \(escape(title))</header>
            \(nav)
            <main>
            \(body)
            </main>
            </body>
            </html>
            """
    }

    /// The hidden CSRF field every POST form of a signed-in page carries.
    public static func csrfField(_ admin: AdminContext) -> String {
        "<input type=\"hidden\" name=\"_csrf\" value=\"\(escape(admin.csrfToken))\">"
    }

    public static func escape(_ text: String) -> String { HTML.escape(text) }

    public static func response(_ status: Int, _ html: String) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("Content-Security-Policy")!] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A page that only says something went wrong, signed in or not.
    public static func message(_ status: Int, title: String, text: String, admin: AdminContext?) -> Response {
        response(status, render(title: title, admin: admin, body: "<div class=\"error\">\(escape(text))</div>"))
    }

    public static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }
}

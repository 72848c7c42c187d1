import Foundation
import Hummingbird

/// `/admin/config` (远程配置): per device, the configuration version the hub holds, the one the
/// device applied, the one it refused and why, the keys its local file overrides, and whether it
/// follows the hub's roster of its hall. Read only;
/// documents are set with `pingjia-hub config set`. A hall manager sees their hall only.
struct RemoteConfigPage: Sendable {
    let auth: AdminAuth

    func register(on router: Router<BasicRequestContext>) {
        auth.register(.get, "/admin/config", on: router) { _, _, admin in
            let statuses: [RemoteConfigStatus]
            do {
                statuses = try await Hub.remoteConfigStatus(auth.hub.storage).filter { admin.user.maySee(hall: $0.hall) }
            } catch {
                return AdminPage.message(503, title: "远程配置", text: "数据库暂时不可用，请稍后再试：\(error)", admin: admin)
            }
            return AdminPage.response(200, AdminPage.render(title: "远程配置", admin: admin, body: Self.body(statuses, hall: admin.user.hall)))
        }
    }

    static func body(_ statuses: [RemoteConfigStatus], hall: String?) -> String {
        let e = AdminPage.escape
        var html = "<h1>远程配置\(hall.map { " · " + e($0) } ?? "")</h1>\n"
        html += "<p>配置文件用 <code>pingjia-hub config set --hall 大厅 文件</code> 或 <code>--device 设备</code> 下发；设备本地配置文件中的项优先（本地覆盖）。</p>\n"
        html += "<table class=\"config\">\n<thead><tr><th>大厅</th><th>设备</th><th>名称</th><th>最新版本</th><th>已应用</th>"
        html += "<th>被拒版本</th><th>拒绝原因</th><th>本地覆盖</th><th>人员名单</th></tr></thead>\n<tbody>\n"
        for status in statuses {
            func text(_ value: Int?) -> String { value.map(String.init) ?? "-" }
            let pending = status.latestVersion != nil && status.latestVersion != status.appliedVersion
            let cells = [status.hall, status.deviceId, status.name, text(status.latestVersion), text(status.appliedVersion),
                         text(status.refusedVersion), status.refusedReason ?? "-",
                         status.overrides.isEmpty ? "-" : status.overrides.joined(separator: ", "),
                         Self.rosterText[status.roster ?? ""] ?? "-"]
            html += "<tr\(status.refusedReason != nil ? " class=\"attention\"" : pending ? " class=\"pending\"" : "")>"
                + cells.map { "<td>\(e($0))</td>" }.joined() + "</tr>\n"
        }
        if statuses.isEmpty { html += "<tr><td colspan=\"9\">没有设备</td></tr>\n" }
        return html + "</tbody>\n</table>\n"
    }

    static let rosterText = ["current": "已同步", "behind": "待同步", "unknown": "未报告", "none": "中心无名单"]
}

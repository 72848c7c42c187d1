import Foundation

/// The fleet admin page's content (server-rendered, no script): one row per device with sortable
/// columns (links), a "needs attention" filter, and the open alerts below. A hall manager sees
/// their hall only: the caller passes `hall` from the signed-in user, never from the query.
public enum FleetPage {
    public struct Query: Sendable, Equatable {
        public var sort: FleetSort = .hall
        public var attentionOnly = false

        public init(sort: FleetSort = .hall, attentionOnly: Bool = false) {
            self.sort = sort
            self.attentionOnly = attentionOnly
        }

        /// From `?sort=…&attention=1`; unknown values fall back to the defaults.
        public init(sort: String?, attention: String?) {
            self.sort = sort.flatMap(FleetSort.init(rawValue:)) ?? .hall
            attentionOnly = attention == "1"
        }

        func link(_ path: String, sort: FleetSort? = nil, attention: Bool? = nil) -> String {
            "\(path)?sort=\((sort ?? self.sort).rawValue)" + ((attention ?? attentionOnly) ? "&attention=1" : "")
        }
    }

    static let columns: [(FleetSort?, String)] = [
        (.hall, "大厅"), (.name, "名称"), (nil, "设备"), (.lastSeen, "最近联系"), (.version, "版本"),
        (.outbox, "待上传"), (.lag, "同步差"), (.alerts, "告警"),
    ]

    static let alertLabels: [String: String] = [
        FleetAlertKind.offline: "离线", FleetAlertKind.outboxStale: "积压", FleetAlertKind.deadLetter: "同步停止",
        FleetAlertKind.clockOffset: "时钟偏差", FleetAlertKind.keypadMissing: "评价器缺失", FleetAlertKind.diskLow: "磁盘不足",
        FleetAlertKind.storeRecovered: "数据库已恢复", FleetAlertKind.badRating: "差评",
    ]

    /// The page's HTML content (for the admin layout's body). `path` is where the page is mounted.
    public static func render(fleet: [FleetDevice], alerts: [FleetAlert], hall: String?, query: Query, path: String) -> String {
        let rows = FleetView.rows(fleet, hall: hall, attentionOnly: query.attentionOnly, sort: query.sort)
        let visibleAlerts = alerts.filter { hall == nil || $0.hall == hall }
        var html = "<h1>设备状态\(hall.map { " · " + escape($0) } ?? "")</h1>\n<p>"
        html += query.attentionOnly
            ? "仅显示需处理的设备 · <a href=\"\(escape(query.link(path, attention: false)))\">显示全部</a>"
            : "<a href=\"\(escape(query.link(path, attention: true)))\">仅显示需处理的设备</a>"
        html += " · 共 \(rows.count) 台</p>\n<table class=\"fleet\">\n<thead><tr>"
        for (sort, label) in columns {
            if let sort {
                let current = sort == query.sort ? " aria-sort=\"ascending\"" : ""
                html += "<th\(current)><a href=\"\(escape(query.link(path, sort: sort)))\">\(label)</a></th>"
            } else {
                html += "<th>\(label)</th>"
            }
        }
        html += "</tr></thead>\n<tbody>\n"
        for row in rows {
            let attention = row.needsAttention ? " class=\"attention\"" : ""
            let alertText = row.openAlerts.map { alertLabels[$0] ?? $0 }.joined(separator: "、")
            let cells = [row.hall, row.name, row.deviceId + (row.status == "active" ? "" : "（\(row.status == "revoked" ? "已吊销" : row.status)）"),
                         row.lastSeen ?? "从未", row.version ?? "-", row.outboxDepth.map(String.init) ?? "-",
                         row.syncLag.map(String.init) ?? "-", alertText.isEmpty ? "-" : alertText]
            html += "<tr\(attention)>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
        }
        if rows.isEmpty { html += "<tr><td colspan=\"\(columns.count)\">没有设备</td></tr>\n" }
        html += "</tbody>\n</table>\n<h2>未处理告警</h2>\n"
        if visibleAlerts.isEmpty { return html + "<p>没有未处理的告警。</p>\n" }
        html += "<table class=\"alerts\">\n<thead><tr><th>时间</th><th>大厅</th><th>设备</th><th>类型</th><th>详情</th></tr></thead>\n<tbody>\n"
        for alert in visibleAlerts {
            let cells = [alert.raisedAt, alert.hall ?? "-", alert.deviceId, alertLabels[alert.kind] ?? alert.kind, alert.detail]
            html += "<tr>" + cells.map { "<td>\(escape($0))</td>" }.joined() + "</tr>\n"
        }
        return html + "</tbody>\n</table>\n"
    }

    static func escape(_ text: String) -> String { AdminPage.escape(text) }
}

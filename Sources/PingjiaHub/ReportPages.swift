import Foundation
import Hummingbird
import PingjiaSyncProtocol

/// The reports page (the same figures as `pingjia-hub report`, with an inline-SVG trend by day)
/// and `GET /v1/admin/reports`. A hall manager's reports are of their own hall.
struct ReportPages: Sendable {
    let auth: AdminAuth
    let workflow: CaseWorkflow

    /// The query from `from`, `to`, `hall` and `by`; the last 30 local days by default.
    func query(_ request: Request, admin: AdminContext) throws(CaseWorkflowError) -> ReportQuery {
        let parameters = request.uri.queryParameters
        let today = LocalDay(workflow.now())
        var start = today
        for _ in 0..<29 { start = LocalDay(start.noon.addingTimeInterval(-24 * 3600)) }
        func text(_ name: String) -> String? { parameters.get(name).flatMap { $0.isEmpty ? nil : $0 } }
        var by: ReportQuery.Grouping?
        if let name = text("by") {
            guard let grouping = ReportQuery.Grouping(rawValue: name) else {
                throw .invalidInput("by must be staff, window, matter or day")
            }
            by = grouping
        }
        let hall = text("hall") ?? admin.user.hall
        if let hall, !admin.user.maySee(hall: hall) { throw .forbidden("\(admin.user.name) may not see the reports of \(hall)") }
        return ReportQuery(from: text("from") ?? start.text, to: text("to") ?? today.text, hall: hall, by: by)
    }

    func register(on router: Router<BasicRequestContext>) {
        auth.register(.get, "/v1/admin/reports", on: router, kind: .api) { request, _, admin in
            do {
                return json(200, try await workflow.report(try query(request, admin: admin)))
            } catch {
                return apiProblem(error)
            }
        }

        auth.register(.get, "/admin/reports", on: router) { request, _, admin in
            do {
                let query = try query(request, admin: admin)
                let report = try await workflow.report(query)
                var daily = query
                daily.by = .day
                let trend = query.by == .day ? report : try await workflow.report(daily)
                return AdminPage.response(200, AdminPage.render(title: "统计报表", admin: admin,
                                                                body: body(report, trend: trend, admin: admin)))
            } catch let error as CaseWorkflowError {
                return AdminPage.message(error.status, title: "统计报表", text: error.description, admin: admin)
            } catch {
                return AdminPage.message(503, title: "统计报表", text: "暂时无法读取数据，请稍后再试", admin: admin)
            }
        }
    }

    func body(_ report: Report, trend: Report, admin: AdminContext) -> String {
        let e = AdminPage.escape
        let groupings = [("", "不分组"), ("staff", "按工号"), ("window", "按窗口"), ("matter", "按事项"), ("day", "按日期")].map {
            "<option value=\"\($0.0)\"\((report.by ?? "") == $0.0 ? " selected" : "")>\($0.1)</option>"
        }.joined()
        let hallField = admin.user.role == .auditor
            ? "<label>大厅 <input name=\"hall\" value=\"\(e(report.hall ?? ""))\" placeholder=\"全部\"></label>" : ""
        var rows = report.lines.map { line in
            "<tr><td>\(e(line.key.isEmpty ? "(无)" : line.key))</td>" + Report.cells(line).map { "<td class=\"num\">\(e($0))</td>" }.joined() + "</tr>"
        }
        rows.append("<tr><th>合计</th>" + Report.cells(report.total).map { "<th class=\"num\">\(e($0))</th>" }.joined() + "</tr>")
        let download = "/v1/admin/reports?from=\(report.from)&to=\(report.to)" + (report.hall.map { "&hall=" + AdminAuth.formEncode($0) } ?? "")
            + (report.by.map { "&by=\($0)" } ?? "")
        return """
            <form method="get" action="/admin/reports" class="action">
            <label>从 <input type="date" name="from" value="\(e(report.from))"></label>
            <label>到 <input type="date" name="to" value="\(e(report.to))"></label>
            \(hallField)
            <label>分组 <select name="by">\(groupings)</select></label>
            <button type="submit">查询</button>
            </form>
            <p>\(e(report.from)) 至 \(e(report.to))（北京时间），\(e(report.hall ?? "全部大厅"))。
            差评率 = (属实 + 待核实差评) ÷ (评价数 − 误评 − 恶意差评)；未评价率 = 未评价 ÷ (评价数 + 未评价)；
            回访率 = 已回访的属实差评 ÷ 属实差评；百分数四舍五入到两位小数。<a href="\(e(download))">JSON</a></p>
            <h2>每日趋势</h2>
            \(Self.trendSVG(trend))
            <h2>明细</h2>
            <table>
            <tr><th>\(e(report.keyTitle))</th>\(Report.columns.map { "<th>\(e($0))</th>" }.joined())</tr>
            \(rows.joined(separator: "\n"))
            </table>
            """
    }

    /// Ratings per day (bars) and 差评 per day (red bars), drawn as inline SVG.
    static func trendSVG(_ report: Report) -> String {
        let lines = report.lines
        guard !lines.isEmpty else { return "<p>该时段没有评价。</p>" }
        let width = 900.0, height = 220.0, left = 40.0, bottom = 30.0
        let top = max(1, lines.map(\.ratings).max() ?? 1)
        let step = (width - left) / Double(lines.count)
        var bars = ""
        for (index, line) in lines.enumerated() {
            let x = left + Double(index) * step
            let h = (height - bottom - 10) * Double(line.ratings) / Double(top)
            let bad = line.bad.valid + line.bad.unverified
            let hb = (height - bottom - 10) * Double(bad) / Double(top)
            bars += """
                <rect x="\(fmt(x + step * 0.1))" y="\(fmt(height - bottom - h))" width="\(fmt(step * 0.8))" height="\(fmt(h))" fill="#90a4ae"><title>\(line.key)：评价 \(line.ratings)，差评 \(bad)，差评率 \(line.badRate.display)</title></rect>
                <rect x="\(fmt(x + step * 0.1))" y="\(fmt(height - bottom - hb))" width="\(fmt(step * 0.8))" height="\(fmt(hb))" fill="#b71c1c"/>
                """
            if lines.count <= 31 || index % max(1, lines.count / 15) == 0 {
                bars += "<text x=\"\(fmt(x + step / 2))\" y=\"\(fmt(height - 10))\" font-size=\"10\" text-anchor=\"middle\">\(line.key.suffix(5))</text>"
            }
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="每日评价与差评">
            <line x1="\(Int(left))" y1="\(fmt(height - bottom))" x2="\(Int(width))" y2="\(fmt(height - bottom))" stroke="#555"/>
            <text x="2" y="14" font-size="11">\(top)</text>
            \(bars)
            </svg>
            <p><span style="color:#90a4ae">■</span> 评价数　<span style="color:#b71c1c">■</span> 差评（属实 + 待核实）</p>
            """
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
}

import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PingjiaSyncProtocol

/// The admin sign-in, the 差评 case pages and API, and the reports page and API.
func registerCaseRoutes(on router: Router<BasicRequestContext>, hub: Hub, settings: HubSettings, logger: Logger) {
    let auth = AdminAuth(hub: hub, settings: settings)
    auth.registerLogin(on: router, logger: logger)
    let workflow = CaseWorkflow(storage: hub.storage, config: settings.workflow, now: hub.now)
    CasePages(auth: auth, workflow: workflow, logger: logger).register(on: router)
    ReportPages(auth: auth, workflow: workflow).register(on: router)
}

struct CasePages: Sendable {
    let auth: AdminAuth
    let workflow: CaseWorkflow
    let logger: Logger

    func register(on router: Router<BasicRequestContext>) {
        // Pages.
        auth.register(.get, "/admin/cases", on: router) { request, _, admin in
            let query = request.uri.queryParameters
            let selection = Self.selection(query.get("state")) ?? .open
            let hall = query.get("hall").flatMap { $0.isEmpty ? nil : $0 }
            let overdue = query.get("overdue") == "1"
            do {
                let cases = try await workflow.list(for: admin.user, selection, hall: hall, overdueOnly: overdue)
                return AdminPage.response(200, AdminPage.render(title: "差评工单", admin: admin,
                                                                body: listBody(cases, admin: admin, selection: selection, hall: hall, overdue: overdue)))
            } catch {
                return page(error, admin: admin)
            }
        }

        auth.register(.get, "/admin/cases/:id", on: router) { request, context, admin in
            guard let id = context.parameters.get("id").flatMap(Int64.init) else {
                return AdminPage.message(404, title: "差评工单", text: "没有这个工单", admin: admin)
            }
            do {
                let detail = try await workflow.detail(id: id, for: admin.user)
                let done = request.uri.queryParameters.get("done").flatMap(CaseAction.init(rawValue:))
                return AdminPage.response(200, AdminPage.render(title: "差评工单 #\(id)", admin: admin,
                                                                body: detailBody(detail, admin: admin, done: done)))
            } catch {
                return page(error, admin: admin)
            }
        }

        auth.register(.post, "/admin/cases/:id/actions", on: router) { _, context, admin in
            guard let id = context.parameters.get("id").flatMap(Int64.init) else {
                return AdminPage.message(404, title: "差评工单", text: "没有这个工单", admin: admin)
            }
            let form = admin.form
            guard let action = form["action"].flatMap(CaseAction.init(rawValue:)) else {
                return AdminPage.message(422, title: "差评工单", text: "未知的操作", admin: admin)
            }
            let input = CaseInput(action: action, note: form["note"], verdict: form["verdict"].flatMap(CaseVerdict.init(rawValue:)),
                                  result: form["result"].flatMap { $0.isEmpty ? nil : $0 },
                                  decision: form["decision"].flatMap { $0.isEmpty ? nil : $0 })
            do {
                try await workflow.apply(id: id, input, by: admin.user)
                logger.notice("case changed", metadata: ["case": "\(id)", "action": "\(action.rawValue)", "user": "\(admin.user.name)"])
                return AdminPage.redirect(to: "/admin/cases/\(id)?done=\(action.rawValue)")
            } catch {
                return page(error, admin: admin)
            }
        }

        // JSON API, same sign-in; POSTs send the CSRF token in X-CSRF-Token.
        auth.register(.get, "/v1/admin/cases", on: router, kind: .api) { request, _, admin in
            let query = request.uri.queryParameters
            guard let selection = Self.selection(query.get("state")) else {
                return problem(.init(type: Problem.Kind.malformed, title: "Bad state", status: 400,
                                     detail: "state must be open (the default), all, or one of "
                                         + CaseState.allCases.map(\.rawValue).joined(separator: ", ")))
            }
            do {
                let cases = try await workflow.list(for: admin.user, selection, hall: query.get("hall").flatMap { $0.isEmpty ? nil : $0 },
                                                    overdueOnly: query.get("overdue") == "1")
                return json(200, CaseListBody(cases: cases))
            } catch {
                return apiProblem(error)
            }
        }

        auth.register(.get, "/v1/admin/cases/:id", on: router, kind: .api) { _, context, admin in
            guard let id = context.parameters.get("id").flatMap(Int64.init) else { return apiProblem(CaseWorkflowError.notFound(0)) }
            do {
                let detail = try await workflow.detail(id: id, for: admin.user)
                return json(200, CaseDetailBody(case: detail.view, events: detail.events, allowed: detail.allowed))
            } catch {
                return apiProblem(error)
            }
        }

        auth.register(.post, "/v1/admin/cases/:id/actions", on: router, kind: .api) { _, context, admin in
            guard let id = context.parameters.get("id").flatMap(Int64.init) else { return apiProblem(CaseWorkflowError.notFound(0)) }
            let input: CaseInput
            do {
                input = try JSONDecoder().decode(CaseInput.self, from: Data(admin.body))
            } catch {
                return problem(.init(type: Problem.Kind.malformed, title: "Malformed action", status: 400,
                                     detail: "the body must be {\"action\": \"verify|rectify|follow-up|close|appeal|review\", \"note\": …, "
                                         + "\"verdict\"|\"result\"|\"decision\": …}"))
            }
            do {
                try await workflow.apply(id: id, input, by: admin.user)
                let detail = try await workflow.detail(id: id, for: admin.user)
                return json(200, CaseDetailBody(case: detail.view, events: detail.events, allowed: detail.allowed))
            } catch {
                return apiProblem(error)
            }
        }
    }

    /// `state=`: empty or `open` (every state but 办结), `all`, or one state; nil if unknown.
    static func selection(_ text: String?) -> CaseWorkflow.Selection? {
        switch text ?? "" {
        case "", "open": .open
        case "all": .all
        default: CaseState(rawValue: text ?? "").map { .state($0) }
        }
    }

    // MARK: - Errors

    func page(_ error: any Error, admin: AdminContext) -> Response {
        guard let error = error as? CaseWorkflowError else {
            logger.error("case page failed", metadata: ["error": "\(error)"])
            return AdminPage.message(503, title: "差评工单", text: "暂时无法读取数据，请稍后再试", admin: admin)
        }
        if case .storage = error { logger.error("case page failed", metadata: ["error": "\(error)"]) }
        let text: String = switch error {
        case .notFound: "没有这个工单"
        case .forbidden(let reason): "无权访问：\(reason)"
        case let .illegal(action, state, allowed):
            "当前状态“\(state.label)”下不能执行“\(action.label)”。当前可执行：" + (allowed.isEmpty ? "无" : allowed.map(\.label).joined(separator: "、"))
        case .invalidInput(let reason): "填写不完整：\(reason)"
        case .changedMeanwhile: "该工单刚被他人修改，请刷新后重试"
        case .storage: "暂时无法读取数据，请稍后再试"
        }
        return AdminPage.message(error.status, title: "差评工单", text: text, admin: admin)
    }

    // MARK: - HTML

    static let codeLabels = [1: "非常满意", 2: "满意", 3: "基本满意", 4: "不满意", 5: "非常不满意"]

    static func localTime(_ text: String) -> String {
        guard let date = WireTime.parse(text) else { return text }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = CaseWorkflowConfig.timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }

    func listBody(_ cases: [CaseView], admin: AdminContext, selection: CaseWorkflow.Selection, hall: String?, overdue: Bool) -> String {
        let e = AdminPage.escape
        let choices: [(String, String, CaseWorkflow.Selection)] = [("open", "未办结", .open)]
            + CaseState.allCases.map { ($0.rawValue, $0.label, .state($0)) } + [("all", "全部", .all)]
        let states = choices.map {
            "<option value=\"\($0.0)\"\(selection == $0.2 ? " selected" : "")>\($0.1)</option>"
        }.joined()
        let hallField = admin.user.role == .auditor
            ? "<label>大厅 <input name=\"hall\" value=\"\(e(hall ?? ""))\"></label>" : ""
        let rows = cases.map { view -> String in
            let c = view.entry
            return """
                <tr><td><a href="/admin/cases/\(c.id)">#\(c.id)</a></td><td>\(e(c.hall))</td><td>\(e(Self.localTime(c.ratedAt)))</td>
                <td>\(e(c.staffId ?? "—"))</td><td>\(e(c.windowId ?? "—"))</td><td>\(e(Self.codeLabels[c.code] ?? "\(c.code)"))</td>
                <td>\(e(c.source == "phone" ? "扫码" : "评价器"))</td><td>\(c.state.label)</td><td>\(c.verdict?.label ?? "—")</td>
                <td\(view.overdue ? " class=\"overdue\"" : "")>\(e(view.dueDay ?? "—"))\(view.overdue ? " 已超期" : "")</td></tr>
                """
        }.joined(separator: "\n")
        return """
            <form method="get" action="/admin/cases" class="action">
            <label>状态 <select name="state">\(states)</select></label>
            \(hallField)
            <label><input type="checkbox" name="overdue" value="1"\(overdue ? " checked" : "")> 只看超期</label>
            <button type="submit">筛选</button>
            </form>
            <p>共 \(cases.count) 件\(cases.count == CaseWorkflow.listLimit ? "（只列出最新的 \(CaseWorkflow.listLimit) 件）" : "")</p>
            <table>
            <tr><th>工单</th><th>大厅</th><th>评价时间</th><th>工号</th><th>窗口</th><th>评价</th><th>渠道</th><th>状态</th><th>核实结论</th><th>办理期限</th></tr>
            \(rows)
            </table>
            """
    }

    func detailBody(_ detail: (view: CaseView, events: [CaseEvent], allowed: [CaseAction]), admin: AdminContext, done: CaseAction?) -> String {
        let e = AdminPage.escape
        let c = detail.view.entry
        let facts: [(String, String)] = [
            ("大厅", c.hall), ("设备", c.deviceId), ("渠道", c.source == "phone" ? "扫码评价" : "评价器"),
            ("工号", c.staffId ?? "—"), ("窗口", c.windowId ?? "—"), ("事项编码", c.matterCode ?? "—"),
            ("评价", Self.codeLabels[c.code] ?? "\(c.code)"), ("原因", c.reasons.isEmpty ? "—" : c.reasons.joined(separator: "、")),
            ("评价内容", c.comment ?? "—"), ("评价时间", Self.localTime(c.ratedAt)), ("立案时间", Self.localTime(c.openedAt)),
            ("状态", c.state.label + (c.appealed ? "（已申诉）" : "")), ("核实结论", c.verdict?.label ?? "—"),
            ("回访结果", c.followUpResult.flatMap { CaseInput.followUpResults[$0] } ?? "—"),
            ("办理期限", (detail.view.dueDay ?? "—") + (detail.view.overdue ? "（已超期）" : "")),
        ]
        let table = facts.map { "<tr><th>\($0.0)</th><td>\(e($0.1))</td></tr>" }.joined()
        let forms = detail.allowed.map { actionForm($0, id: c.id, admin: admin) }.joined(separator: "\n")
        let trail = detail.events.map {
            "<tr><td>\(e(Self.localTime($0.at)))</td><td>\(e($0.actor))</td><td>\(e(CaseAction(rawValue: $0.action)?.label ?? $0.action))</td>"
                + "<td>\($0.fromState?.label ?? "—") → \($0.toState.label)</td><td>\(e($0.note))</td></tr>"
        }.joined(separator: "\n")
        return """
            \(done.map { "<div class=\"notice\">已完成：\($0.label)</div>" } ?? "")
            <p><a href="/admin/cases">← 返回列表</a></p>
            <table>\(table)</table>
            <h2>可执行的操作</h2>
            \(forms.isEmpty ? "<p>当前没有您可执行的操作。</p>" : forms)
            <h2>办理记录</h2>
            <table><tr><th>时间</th><th>经办人</th><th>操作</th><th>状态</th><th>说明</th></tr>
            \(trail)
            </table>
            """
    }

    func actionForm(_ action: CaseAction, id: Int64, admin: AdminContext) -> String {
        func radios(_ name: String, _ options: [(String, String)]) -> String {
            options.map { "<label><input type=\"radio\" name=\"\(name)\" value=\"\($0.0)\" required> \($0.1)</label>" }.joined()
        }
        let fields: String = switch action {
        case .verify: "<p>核实结论：" + radios("verdict", CaseVerdict.allCases.map { ($0.rawValue, $0.label) }) + "</p><p>核实情况与证据：</p>"
        case .rectify: "<p>整改措施：</p>"
        case .followUp: "<p>回访结果：" + radios("result", [("satisfied", "满意"), ("unsatisfied", "不满意"), ("unreachable", "联系不上")]) + "</p><p>回访情况：</p>"
        case .close: "<p>办结说明（可不填）：</p>"
        case .appeal: "<p>员工申诉理由：</p>"
        case .review: "<p>复核决定：" + radios("decision", [("upheld", "维持属实"), ("mistaken", "改为误评"), ("malicious", "改为恶意差评")]) + "</p><p>复核意见：</p>"
        }
        return """
            <form method="post" action="/admin/cases/\(id)/actions" class="action">
            \(AdminPage.csrfField(admin))
            <input type="hidden" name="action" value="\(action.rawValue)">
            <strong>\(action.label)</strong>
            \(fields)
            <textarea name="note"\(action == .close ? "" : " required")></textarea>
            <p><button type="submit">提交：\(action.label)</button></p>
            </form>
            """
    }
}

struct CaseListBody: Encodable { let cases: [CaseView] }

struct CaseDetailBody: Encodable {
    let `case`: CaseView
    let events: [CaseEvent]
    let allowed: [CaseAction]
}

/// A problem body that also lists what is allowed (409 on an illegal transition).
struct CaseProblem: Encodable {
    let type: String
    let title: String
    let status: Int
    let detail: String
    let allowed: [CaseAction]?
}

func apiProblem(_ error: any Error) -> Response {
    guard let error = error as? CaseWorkflowError else {
        return problem(.init(type: Problem.Kind.internalError, title: "Storage error", status: 503, detail: "retry later"))
    }
    var allowed: [CaseAction]?
    if case .illegal(_, _, let actions) = error { allowed = actions }
    let type = switch error {
    case .notFound: "not-found"
    case .forbidden: "forbidden"
    case .illegal: "illegal-transition"
    case .changedMeanwhile: "changed-meanwhile"
    case .invalidInput: "invalid-input"
    case .storage: Problem.Kind.internalError
    }
    let body = CaseProblem(type: type, title: "Refused", status: error.status, detail: error.description, allowed: allowed)
    var response = json(error.status, body)
    response.headers[.contentType] = "application/problem+json; charset=utf-8"
    return response
}

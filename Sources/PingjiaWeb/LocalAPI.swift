import Foundation
import Hummingbird
import Logging
import PingjiaCore
import PingjiaKiosk

/// The local API: the window's business system (or the CLI) arms rating sessions and sets who is
/// serving. Bound to loopback by default (`[web] listen`).
struct LocalAPI: Sendable {
    let web: WebContext
    let logger: Logger

    struct ArmRequest: Decodable {
        var staffId: String?
        var matterCode: String?
        var caseNo: String?
    }

    struct StaffRequest: Decodable {
        var staffId: String?
        var status: String
    }

    func register(on router: Router<BasicRequestContext>) {
        let windows = router.group("/api/v1/windows")
        windows.get(":window") { _, context in
            try json(web.sessions.windowState(try windowParameter(context)))
        }
        windows.post(":window/session") { request, context in
            let windowId = try windowParameter(context)
            let body = try await decodeBody(ArmRequest.self, request)
            if let staffId = body.staffId { try requireStaff(staffId, field: "body.staffId") }
            // Nobody named: whoever serves at the window, as a keypad's 请评价 key would.
            let staffId = try body.staffId ?? web.currentStaff(windowId: windowId)?.id
            for (name, value) in [("matterCode", body.matterCode), ("caseNo", body.caseNo)] {
                if let value, value.isEmpty || value.count > 64 {
                    throw Problem(.badRequest, "bad \(name)", detail: "\(name) must be 1 to 64 characters", field: "body.\(name)")
                }
            }
            do {
                let session = try web.sessions.arm(windowId: windowId, staffId: staffId, matterCode: body.matterCode,
                                                   caseNo: body.caseNo, source: .api)
                logger.info("session armed by the local API", metadata: [
                    "window": "\(windowId)", "staff": "\(session.staffId ?? "-")", "session": "\(session.id)",
                ])
                return try json(session, status: .created)
            } catch {
                throw Problem(.conflict, "nobody to rate", detail: "\(error)", field: "body.staffId")
            }
        }
        windows.post(":window/staff") { request, context in
            let windowId = try windowParameter(context)
            let body = try await decodeBody(StaffRequest.self, request)
            guard let status = StaffStatus(rawValue: body.status) else {
                throw Problem(.badRequest, "unknown status",
                              detail: "status '\(body.status)' must be one of \(StaffStatus.allCases.map(\.rawValue).joined(separator: ", "))",
                              field: "body.status")
            }
            if let staffId = body.staffId { try requireStaff(staffId, field: "body.staffId") }
            let current = web.sessions.windowState(windowId).staffId
            let staffId = try body.staffId ?? current ?? web.defaultStaff(windowId: windowId)?.id
            do {
                let state = try web.sessions.setStaff(windowId: windowId, staffId: staffId, status: status)
                logger.info("staff status changed by the local API", metadata: [
                    "window": "\(windowId)", "staff": "\(state.staffId ?? "-")", "status": "\(status.rawValue)",
                ])
                return try json(state)
            } catch {
                throw Problem(.conflict, "nobody at the window", detail: "\(error)", field: "body.staffId")
            }
        }
    }

    private func requireStaff(_ staffId: String, field: String) throws {
        let staff: Staff?
        do {
            staff = try web.kiosk.store.staff(id: staffId)
        } catch {
            throw Problem(.serviceUnavailable, "store not readable", detail: error.description)
        }
        guard staff != nil else {
            throw Problem(.unprocessableContent, "unknown staff",
                          detail: "no staff with 工号 '\(staffId)' in the roster: import it with `pingjia roster import FILE.csv`",
                          field: field)
        }
    }
}

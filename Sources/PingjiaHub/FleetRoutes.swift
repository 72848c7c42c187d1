import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PingjiaSyncProtocol

/// The fleet's HTTP side: `POST /v1/devices/{id}/heartbeat` (docs/sync-protocol.md, "Heartbeat")
/// and the fleet admin page.
func registerFleetRoutes(on router: Router<BasicRequestContext>, hub: Hub, settings: HubSettings, limits: DeviceRequestLimits,
                         logger: Logger) {
    registerFleetAdminPage(on: router, hub: hub, settings: settings)
    let signatureHeader = HTTPField.Name(HeartbeatAuth.header)!

    router.post("/v1/devices/:id/heartbeat") { request, context -> Response in
        let deviceId = context.parameters.get("id") ?? ""
        if let refused = limits.refuseUnauthenticated(request) { return refused }
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: Hub.maxHeartbeatBytes) } catch {
            return limits.refused(request, problem(Problem(type: Problem.Kind.tooLarge, title: "Request too large", status: 413,
                                                           detail: "a heartbeat is at most \(Hub.maxHeartbeatBytes) bytes")))
        }
        let bytes = Array(buffer: body)
        if let denied = await hub.verifyHeartbeat(deviceId: deviceId, signature: request.headers[signatureHeader], body: bytes) {
            return limits.refused(request, problem(denied))
        }
        guard limits.admitHeartbeat(deviceId) else {
            return problem(Problem(type: Problem.Kind.rateLimited, title: "Too many requests", status: 429,
                                   detail: "too many heartbeats from this device: send one a minute, and on change"))
        }
        switch await hub.recordHeartbeat(deviceId: deviceId, body: bytes) {
        case .success(let answer): return json(200, answer)
        case .failure(let failure): return problem(failure)
        }
    }
}

/// The fleet admin page, `/admin/fleet`, behind the admin sign-in: a hall manager sees their
/// hall's devices and alerts only (the hall comes from the session, never from the query).
func registerFleetAdminPage(on router: Router<BasicRequestContext>, hub: Hub, settings: HubSettings) {
    let auth = AdminAuth(hub: hub, settings: settings)
    auth.register(.get, "/admin/fleet", on: router) { request, _, admin -> Response in
        let query = FleetPage.Query(sort: request.uri.queryParameters.get("sort"), attention: request.uri.queryParameters.get("attention"))
        let hall = admin.user.role == .auditor ? nil : (admin.user.hall ?? "")
        let fleet = try await hub.storage.fleet()
        let alerts = try await hub.storage.alerts(includeCleared: false, limit: 500)
        let body = FleetPage.render(fleet: fleet, alerts: alerts, hall: hall, query: query, path: "/admin/fleet")
        return AdminPage.response(200, AdminPage.render(title: "设备状态", admin: admin, body: body))
    }
}

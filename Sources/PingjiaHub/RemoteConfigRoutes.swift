import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PingjiaSyncProtocol

/// `GET /v1/devices/{id}/config` (the signed document, 404 `no-config` when none reaches the
/// device), `POST /v1/devices/{id}/config/result` (applied or refused, and why) and `GET
/// /v1/devices/{id}/roster` (the hall's roster, signed; 404 `no-roster`). All signed by the
/// device key (`DeviceAuth`).
func registerRemoteConfigRoutes(on router: Router<BasicRequestContext>, hub: Hub, settings: HubSettings, limits: DeviceRequestLimits,
                                logger: Logger) {
    RemoteConfigPage(auth: AdminAuth(hub: hub, settings: settings)).register(on: router)

    /// A GET the device signs (`DeviceAuth`): limited per device, refused unless the signature
    /// holds, then `answer`; a storage failure is a 503 the device retries.
    func signedDeviceGet(_ path: RouterPath, _ what: String,
                         answer: @escaping @Sendable (_ deviceId: String, _ request: Request) async throws -> Response) {
        router.get(path) { request, context -> Response in
            let deviceId = context.parameters.get("id") ?? ""
            if let refused = limits.refuseUnauthenticated(request) { return refused }
            if let denied = await hub.deviceRequestProblem(deviceId: deviceId, method: "GET", target: request.uri.path, body: [],
                                                           date: request.headers[HTTPField.Name(PullAuth.dateHeader)!],
                                                           authorization: request.headers[.authorization]) {
                return limits.refused(request, problem(denied))
            }
            guard limits.admit(deviceId) else { return rateLimited() }
            do {
                return try await answer(deviceId, request)
            } catch {
                logger.error("\(what) fetch failed", metadata: ["device": "\(deviceId)", "error": "\(error)"])
                return problem(Problem(type: Problem.Kind.internalError, title: "Storage error", status: 503, detail: "retry later"))
            }
        }
    }

    signedDeviceGet("/v1/devices/:id/config", "configuration") { deviceId, _ in
        guard let signed = try await hub.signedConfig(deviceId: deviceId) else {
            return problem(Problem(type: "no-config", title: "No configuration", status: 404,
                                   detail: "no configuration document reaches \(deviceId) (`pingjia-hub config set`)"))
        }
        return json(200, signed)
    }

    // A kiosk asks with the digest of the roster it holds: unchanged, it gets 304 and no body.
    signedDeviceGet("/v1/devices/:id/roster", "roster") { deviceId, request in
        guard let signed = try await hub.signedRoster(deviceId: deviceId) else {
            return problem(Problem(type: "no-roster", title: "No roster", status: 404,
                                   detail: "the hub holds no roster for the hall of \(deviceId) (`pingjia-hub roster import`)"))
        }
        let tag = "\"\(signed.contentDigest)\""
        if request.headers[.ifNoneMatch] == tag {
            return Response(status: .notModified, headers: [.eTag: tag])
        }
        var response = json(200, signed)
        response.headers[.eTag] = tag
        return response
    }

    router.post("/v1/devices/:id/config/result") { request, context -> Response in
        let deviceId = context.parameters.get("id") ?? ""
        let body: [UInt8]
        switch await signedDeviceBody(request, deviceId: deviceId, upTo: 64 * 1024, tooLargeDetail: "at most 64 KiB",
                                      hub: hub, limits: limits) {
        case .success(let bytes): body = bytes
        case .failure(let refusal): return refusal.response
        }
        guard let result = try? JSONDecoder().decode(ConfigResult.self, from: Data(body)) else {
            return problem(Problem(type: Problem.Kind.malformed, title: "Malformed result", status: 400,
                                   detail: "the body must be {\"version\", \"applied\", \"reason\"?, \"overrides\"}"))
        }
        do {
            try await hub.recordConfigResult(deviceId: deviceId, result)
            return json(200, ["recorded": result.version])
        } catch {
            if case .invalid(let reason)? = error as? HubError {
                return problem(Problem(type: Problem.Kind.malformed, title: "Malformed result", status: 400, detail: reason))
            }
            return problem(Problem(type: Problem.Kind.internalError, title: "Storage error", status: 503, detail: "retry later"))
        }
    }

}

/// A refusal of a device request, as the response to send.
struct DeviceRequestRefusal: Error {
    let response: Response
}

/// The body of a POST the device signs (`DeviceAuth`), at most `maxBytes`: refusals before
/// authentication are counted against the client address, the per-device limit is charged only
/// once the signature holds.
func signedDeviceBody(_ request: Request, deviceId: String, upTo maxBytes: Int, tooLargeDetail: String,
                      hub: Hub, limits: DeviceRequestLimits) async -> Result<[UInt8], DeviceRequestRefusal> {
    if let refused = limits.refuseUnauthenticated(request) { return .failure(DeviceRequestRefusal(response: refused)) }
    var request = request
    let buffer: ByteBuffer
    do { buffer = try await request.collectBody(upTo: maxBytes) } catch {
        return .failure(DeviceRequestRefusal(response: limits.refused(request, problem(
            Problem(type: Problem.Kind.tooLarge, title: "Request too large", status: 413, detail: tooLargeDetail)))))
    }
    let body = Array(buffer: buffer)
    if let denied = await hub.deviceRequestProblem(deviceId: deviceId, method: "POST", target: request.uri.path, body: body,
                                                   date: request.headers[HTTPField.Name(PullAuth.dateHeader)!],
                                                   authorization: request.headers[.authorization]) {
        return .failure(DeviceRequestRefusal(response: limits.refused(request, problem(denied))))
    }
    guard limits.admit(deviceId) else { return .failure(DeviceRequestRefusal(response: rateLimited())) }
    return .success(body)
}

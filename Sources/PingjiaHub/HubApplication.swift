import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PingjiaCore
import PingjiaSyncProtocol

/// Settings of the hub's HTTP side.
public struct HubSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8780
    /// Largest request body accepted; a device sizes its batches below this.
    public var maxBodyBytes = 4 * 1024 * 1024
    /// Per device, counted once a request is authenticated (signed by the device's key): batches
    /// and configuration requests a second, sustained, and the burst above it. Generous: a kiosk
    /// draining a backlog of a million ratings sends some 70 batches a second, and only the
    /// device's own key can spend this allowance.
    public var requestsPerSecond = 200.0
    public var burst = 400.0
    /// Per client address (the connection's peer, or `clientAddressHeader`): device requests the
    /// hub refused before they were authenticated (unknown device, bad signature, malformed,
    /// too large) a second, and the burst above it. An address that used up its allowance gets
    /// 429 before the hub reads or looks anything up; authenticated devices never spend it.
    public var refusalsPerSecond = 1.0
    public var refusalBurst = 30.0
    /// Most buckets one limit keeps; idle buckets (full again) are dropped first, and beyond
    /// this strangers share one bucket, so memory stays bounded whatever ids or addresses arrive.
    public var rateLimitBuckets = 10_000
    /// A connection that sends nothing (no new request, or no further part of the one being read)
    /// for this long is closed, so slow or stalled clients cannot hold sockets open.
    public var idleTimeoutSeconds = 30
    /// Bearer token a provincial platform presents to `/v1/export`; nil disables the feed.
    public var exportToken: String?
    /// Phone page: ratings from a printed sticker (no per-transaction token) one client address may send per hour.
    public var stickerRatingsPerHour = 6.0
    /// Behind a reverse proxy every phone arrives from the proxy's address: the header the proxy
    /// writes the client's address into (e.g. X-Real-IP; the last entry of a list counts). Nil: the connection's peer.
    public var clientAddressHeader: String?
    /// Admin pages: session cookies marked Secure (set it when the hub is served over https).
    public var adminSecureCookie = false
    public var adminSessionMinutes = 8 * 60
    public var loginsPerMinutePerUser = 2.0
    /// 差评 case deadlines and the working-day calendar (`hub/workflow.toml`).
    public var workflow = CaseWorkflowConfig.empty
    /// Per device, once authenticated: heartbeats a second sustained, and the burst above it (a change sends one at once).
    public var heartbeatsPerSecond = 0.2
    public var heartbeatBurst = 10.0
    /// Where phones reach this hub (`serve --public-url`), e.g. `https://pingjia.example.gov.cn`:
    /// enrollment hands kiosks the phone page's link under it, so their QR codes need no other setting.
    public var publicURL: String?

    public init() {}

    /// The QR link template of the phone page under `publicURL`.
    public var qrURLTemplate: String? { publicURL.map { $0 + "/r/{deviceId}/{staffId}" } }

    /// `publicURL` as given on the command line, checked: http(s), a host, no query; a trailing `/` dropped.
    /// Nil when `text` is not one, so the caller can say which flag is wrong.
    public static func checkPublicURL(_ text: String) -> String? {
        let trimmed = text.hasSuffix("/") ? String(text.dropLast()) : text
        guard let url = URL(string: trimmed), let scheme = url.scheme, ["http", "https"].contains(scheme),
              let host = url.host, !host.isEmpty, url.query == nil, url.fragment == nil, !trimmed.contains("{") else {
            return nil
        }
        return trimmed
    }
}

/// Builds the hub's HTTP application; `pingjia-hub serve` and the tests both call this, so the
/// tests exercise exactly what runs in production. The application is a `Service`.
/// `onServerRunning` receives the bound port (useful with port 0).
public func buildApplication(hub: Hub, settings: HubSettings, logger: Logger,
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = Router()
    router.add(middleware: HubProblemMiddleware(logger: logger))
    // Enrollment is not per device: one bucket for all, at the rate a hall's installers need.
    let enrollLimiter = RateLimiter(rate: 20, burst: 40, maxBuckets: 1)
    let limits = DeviceRequestLimits(settings: settings)
    let maxBody = settings.maxBodyBytes

    // The phone page's link travels with it, so `pingjia setup` can refuse a hub without one
    // before it spends the enrollment code.
    let health = ["status": "ok"].merging(settings.qrURLTemplate.map { ["qrURLTemplate": $0] } ?? [:]) { first, _ in first }
    router.get("/healthz") { _, _ -> Response in
        json(200, health)
    }

    router.post("/v1/enroll") { request, _ -> Response in
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: 64 * 1024) } catch { return tooLarge(64 * 1024) }
        guard enrollLimiter.allow("enroll") else { return rateLimited() }
        let enroll: EnrollRequest
        do {
            enroll = try JSONDecoder().decode(EnrollRequest.self, from: Data(buffer: body))
        } catch {
            return problem(Problem(type: Problem.Kind.malformed, title: "Malformed enrollment", status: 400,
                                   detail: "the body is not an enrollment request: \(Hub.describe(error))"))
        }
        do {
            var answer = try await hub.enroll(enroll)
            answer.qrURLTemplate = settings.qrURLTemplate
            return json(200, answer)
        } catch let error as HubError {
            switch error {
            case .badCode:
                return problem(Problem(type: Problem.Kind.badCode, title: "Bad enrollment code", status: 403, detail: error.description))
            case .alreadyEnrolled:
                return problem(Problem(type: "already-enrolled", title: "Already enrolled", status: 409, detail: error.description))
            case .invalid(let reason):
                return problem(Problem(type: Problem.Kind.malformed, title: "Malformed enrollment", status: 400, detail: reason))
            default:
                logger.error("enrollment failed", metadata: ["error": "\(error)"])
                return problem(Problem(type: Problem.Kind.internalError, title: "Storage error", status: 503, detail: "retry later"))
            }
        } catch {
            return problem(Problem(type: Problem.Kind.internalError, title: "Storage error", status: 503, detail: "retry later"))
        }
    }

    router.post("/v1/devices/:id/batches") { request, context -> Response in
        let deviceId = context.parameters.get("id") ?? ""
        if let refused = limits.refuseUnauthenticated(request) { return refused }
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: maxBody) } catch { return limits.refused(request, tooLarge(maxBody)) }
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        let verified: VerifiedBatch
        switch await hub.verifyBatch(deviceId: deviceId, idempotencyKey: key, body: Array(buffer: body)) {
        case .success(let batch): verified = batch
        case .failure(let failure): return limits.refused(request, problem(failure))
        }
        guard limits.admit(deviceId) else { return rateLimited() }
        switch await hub.store(verified) {
        case .success(let receipt): return json(200, receipt)
        case .failure(let failure): return problem(failure)
        }
    }

    router.get("/v1/export") { request, _ -> Response in
        if let denied = exportDenied(request, token: settings.exportToken) { return denied }
        let after = Int64(request.uri.queryParameters.get("after") ?? "0")
        let limit = Int(request.uri.queryParameters.get("limit") ?? "500")
        guard let after, after >= 0, let limit, (1...5000).contains(limit) else {
            return problem(Problem(type: Problem.Kind.malformed, title: "Bad query", status: 400,
                                   detail: "after must be a cursor (integer ≥ 0) and limit 1-5000"))
        }
        do {
            let records = try await hub.storage.exportRecords(after: after, limit: limit)
            return json(200, ExportPage(records: records))
        } catch {
            return problem(Problem(type: Problem.Kind.internalError, title: "Storage error", status: 503, detail: "retry later"))
        }
    }

    router.post("/v1/export/ack") { request, _ -> Response in
        if let denied = exportDenied(request, token: settings.exportToken) { return denied }
        var request = request
        let body: ByteBuffer
        do { body = try await request.collectBody(upTo: 4096) } catch { return tooLarge(4096) }
        guard let ack = try? JSONDecoder().decode(ExportAck.self, from: Data(buffer: body)) else {
            return problem(Problem(type: Problem.Kind.malformed, title: "Malformed ack", status: 400,
                                   detail: "the body must be {\"throughCursor\": N}"))
        }
        do {
            try await hub.storage.acknowledgeExport(consumer: "export", through: ack.throughCursor)
            return json(200, ack)
        } catch {
            if case .invalid(let reason)? = error as? HubError {
                return problem(Problem(type: Problem.Kind.malformed, title: "Bad cursor", status: 400, detail: reason))
            }
            return problem(Problem(type: Problem.Kind.internalError, title: "Storage error", status: 503, detail: "retry later"))
        }
    }

    registerPhoneRoutes(on: router, hub: hub, settings: settings, logger: logger)
    registerCaseRoutes(on: router, hub: hub, settings: settings, logger: logger)
    registerFleetRoutes(on: router, hub: hub, settings: settings, limits: limits, logger: logger)
    registerRemoteConfigRoutes(on: router, hub: hub, settings: settings, limits: limits, logger: logger)
    registerRosterOfferRoute(on: router, hub: hub, settings: settings, limits: limits, logger: logger)

    var configuration = ApplicationConfiguration(address: .hostname(settings.host, port: settings.port), serverName: "pingjia-hub")
    configuration.reuseAddress = true
    return Application(router: router, server: .http1(configuration: .init(additionalChannelHandlers: [PeerAddressHandler()],
                                                                         idleTimeout: .seconds(Int64(settings.idleTimeoutSeconds)))),
                       configuration: configuration, onServerRunning: { channel in
        await onServerRunning(channel.localAddress?.port ?? settings.port)
    }, logger: logger)
}

private func exportDenied(_ request: Request, token: String?) -> Response? {
    guard let token else {
        return problem(Problem(type: "export-disabled", title: "Export disabled", status: 404,
                               detail: "the export feed is off: start the hub with --export-token-file"))
    }
    guard request.headers[.authorization] == "Bearer \(token)" else {
        return problem(Problem(type: "unauthorized", title: "Unauthorized", status: 401,
                               detail: "send Authorization: Bearer <export token>"))
    }
    return nil
}

struct ExportAck: Codable { var throughCursor: Int64 }

func json<T: Encodable>(_ status: Int, _ value: T) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return Response(status: .init(code: status), headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// `Retry-After` of a 503 (the hub's database unavailable).
let storageRetryAfterSeconds = 5

func problem(_ problem: Problem) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(problem)) ?? Data("{}".utf8)
    var headers: HTTPFields = [.contentType: "application/problem+json; charset=utf-8"]
    // 429: the bucket refills within a second. 503: the database is down or locked; the device
    // backs off from here (doubling) until it is back.
    if problem.status == 429 { headers[.retryAfter] = "1" }
    if problem.status == 503 { headers[.retryAfter] = "\(storageRetryAfterSeconds)" }
    return Response(status: .init(code: problem.status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

private func tooLarge(_ limit: Int) -> Response {
    problem(Problem(type: Problem.Kind.tooLarge, title: "Request too large", status: 413,
                    detail: "the body exceeds \(limit) bytes: send fewer records per batch"))
}

func rateLimited() -> Response {
    problem(Problem(type: Problem.Kind.rateLimited, title: "Too many requests", status: 429,
                    detail: "too many requests from this device: slow down and retry after the Retry-After delay"))
}


import Foundation
import Hummingbird
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaKiosk
import PingjiaQR
import ServiceLifecycle

/// What the local web works with: the same kiosk, session engine and health record as the
/// devices, so a session armed here is the one a key press rates.
public struct WebContext: Sendable {
    public let kiosk: KioskContext
    public let sessions: SessionEngine
    public let health: KioskHealth
    /// The registry behind /metrics; its `kioskMetrics` must be the one `kiosk` counts into.
    public let metrics: MetricsExport?
    /// Signs the QR token of armed sessions; nil (a device not enrolled yet): the static staff QR only.
    public let phoneTokens: PhoneTokenIssuer?

    public init(kiosk: KioskContext, sessions: SessionEngine, health: KioskHealth, metrics: MetricsExport? = nil,
                phoneTokens: PhoneTokenIssuer? = nil) {
        self.kiosk = kiosk
        self.sessions = sessions
        self.health = health
        self.metrics = metrics
        self.phoneTokens = phoneTokens
    }
}

extension WebContext {
    /// Whom a window rates when nobody has signed in there: the staff member of a `[[keypad]]` at
    /// that window, else the roster's first staff member of that window (the display shows them too).
    func defaultStaff(windowId: String) throws(Problem) -> Staff? {
        do {
            for pairing in kiosk.config.keypads {
                guard let staffId = pairing.staffId else { continue }
                if let window = pairing.windowId {
                    if window == windowId { return try kiosk.store.staff(id: staffId) }
                } else if let staff = try kiosk.store.staff(id: staffId), staff.windowId == windowId {
                    return staff
                }
            }
            return try kiosk.store.staff().first { $0.windowId == windowId }
        } catch {
            throw Problem(.serviceUnavailable, "store not readable", detail: "\(error)")
        }
    }

    /// The staff member serving at `windowId` now: signed in (or paused, away), else the default.
    func currentStaff(windowId: String) throws(Problem) -> Staff? {
        let state = sessions.windowState(windowId)
        if state.status != .signedOut, let id = state.staffId {
            do { return try kiosk.store.staff(id: id) } catch {
                throw Problem(.serviceUnavailable, "store not readable", detail: "\(error)")
            }
        }
        return try defaultStaff(windowId: windowId)
    }
}

/// The kiosk's local web: the local API, the window display with live updates, /healthz. Shared
/// by pingjiad and the tests, so the tests exercise the routes the daemon serves.
public func buildApplication(_ web: WebContext, settings: WebSettings, logger: Logger,
                             heartbeat: Duration = .seconds(15),
                             onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
    -> some ApplicationProtocol & Service {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    LocalAPI(web: web, logger: logger).register(on: router)
    DisplayPages(web: web, heartbeat: heartbeat).register(on: router)
    TouchRatingAPI(web: web, logger: logger).register(on: router)
    ReasonsAPI(web: web, logger: logger).register(on: router)
    TouchPage(web: web).register(on: router)
    ConfigAPI(web: web).register(on: router)
    router.get("/healthz") { _, _ in try healthz(web) }
    router.get("/metrics") { _, _ -> Response in
        guard let metrics = web.metrics else {
            throw Problem(.notFound, "metrics are off", detail: "this server was built without a metrics registry")
        }
        let text = metrics.render(pending: try? web.kiosk.store.outboxFacts().depth)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.listen, port: settings.port), serverName: "pingjiad"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? settings.port) },
        logger: logger
    )
}

/// Store writable (StoreHealthCheck: a status read and a real write in the state directory) and the last USB event. 503 when
/// the store is not usable, so a monitor alarms on the status code alone.
func healthz(_ web: WebContext) throws -> Response {
    let storeProblem = StoreHealthCheck(kiosk: web.kiosk).problem()
    let pending = try? web.kiosk.store.outboxFacts().depth
    struct Health: Encodable {
        var status: String
        var store: String
        var storeProblem: String?
        var waitingForHub: UInt64?
        var lastUsbEvent: String?
    }
    let health = Health(status: storeProblem == nil ? "ok" : "failing", store: storeProblem == nil ? "writable" : "failing",
                        storeProblem: storeProblem, waitingForHub: pending, lastUsbEvent: web.health.lastUSBEvent)
    return try json(health, status: storeProblem == nil ? .ok : .serviceUnavailable)
}

func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

import Logging
import PingjiaConfig
import PingjiaKiosk
import PingjiaWeb
import ServiceLifecycle

/// The local web as a member of the service group, last: it stops first. A port that is taken
/// costs the display and the local API, not the ratings, so it is logged and the daemon stays up.
struct WebService: Service {
    let web: WebContext
    let settings: WebSettings
    let logger: Logger
    /// Told once the port is bound or the web has given up on it (READY=1 waits for this);
    /// finished when the service ends either way.
    var ready: AsyncStream<Void>.Continuation? = nil

    func run() async throws {
        defer { ready?.finish() }
        let app = buildApplication(web, settings: settings, logger: logger) { [logger, settings, ready] port in
            logger.info("local web listening", metadata: ["address": "http://\(settings.listen):\(port)"])
            ready?.yield()
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                // Open display pages hold a server-sent event stream each; end them so the server can stop.
                group.addTask {
                    try? await gracefulShutdown()
                    web.sessions.finishSubscribers()
                }
                try await group.next()
                try await group.waitForAll()
            }
        } catch {
            logger.error("local web not available: no window display, no local API; change [web] port or free it",
                         metadata: ["listen": "\(settings.listen):\(settings.port)", "reason": "\(error)"])
            ready?.yield()
            try? await gracefulShutdown()
        }
    }
}

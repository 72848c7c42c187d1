import Logging
import PingjiaConfig
import PingjiaKiosk
import PingjiaSync
import ServiceLifecycle

/// Hands every configuration change to the parts that keep state of their own: the session
/// engine takes the new rules and re-sends each display its window, so open pages redraw.
struct ConfigFollowerService: Service {
    let live: LiveConfig
    let sessions: SessionEngine

    func run() async throws {
        for await change in live.changes().cancelOnGracefulShutdown() {
            sessions.update(settings: change.config.sessions)
        }
    }
}

/// Asks the hub for this kiosk's configuration every `interval` (and at start), applying a new
/// version live. Runs beside the pusher; a hub that cannot be reached costs one failed request
/// and nothing on the press → commit path.
struct RemoteConfigService: Service {
    let client: RemoteConfigClient
    let interval: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastFailure: String?
            while !Task.isCancelled {
                let outcome = await client.sync()
                if case .failed(let reason) = outcome {
                    if reason != lastFailure { logger.info("remote configuration not fetched", metadata: ["reason": "\(reason)"]) }
                    lastFailure = reason
                } else {
                    lastFailure = nil
                }
                try? await Task.sleep(for: interval)
            }
        }
        await client.transport.shutdown()
    }
}

import Logging
import PingjiaKiosk
import ServiceLifecycle

/// The daemon's side of `Type=notify` with `WatchdogSec=`, last in the service group so it is the
/// first to hear of a shutdown. READY=1 once the store is open (it is, before the group starts)
/// and the local web has bound its port (or given up on it: the ratings do not need it).
/// WATCHDOG=1 every half interval, but only while the store takes writes: a kiosk that cannot
/// store ratings is restarted by systemd rather than pretending to work. The ping comes from a
/// task on the same concurrency pool as the sessions and the web, so a stuck pool stops it too.
struct NotifyService: Service {
    let notifier: any ServiceManagerNotifier
    let webReady: AsyncStream<Void>
    let health: StoreHealthCheck
    let watchdogInterval: Duration?
    let logger: Logger

    func run() async throws {
        var ready = webReady.makeAsyncIterator()
        // The stream ends without an element on shutdown before the web came up: no READY then.
        let cameUp = await ready.next() != nil
        if cameUp && !Task.isShuttingDownGracefully {
            notifier.notify("READY=1")
            logger.debug("told the service manager: ready")
            if let watchdogInterval {
                var failing = false
                while !Task.isShuttingDownGracefully {
                    if let problem = health.problem() {
                        if !failing {
                            logger.error("watchdog pings stopped: the store cannot take ratings; systemd restarts the daemon when WatchdogSec runs out",
                                         metadata: ["problem": "\(problem)"])
                        }
                        failing = true
                    } else {
                        if failing { logger.notice("store writable again: watchdog pings resume") }
                        failing = false
                        notifier.notify("WATCHDOG=1")
                    }
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: watchdogInterval) }
                }
            }
        }
        try? await gracefulShutdown()
        notifier.notify("STOPPING=1")
    }
}

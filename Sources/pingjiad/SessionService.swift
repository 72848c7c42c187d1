import Logging
import PingjiaKiosk
import ServiceLifecycle

/// Runs the session engine's clock: a few times a second it closes sessions that timed out and
/// logs each one with its window and staff member. Between the devices and the web in the group.
struct SessionService: Service {
    let sessions: SessionEngine
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            log(sessions.takeEvents())
            try? await Task.sleep(for: .milliseconds(200))
        }
        log(sessions.takeEvents())
        sessions.finishSubscribers()
    }

    private func log(_ events: [SessionEvent]) {
        for event in events {
            switch event {
            case .timedOut(let session):
                // 未评价. Kept only in the log until the store has a record kind for it.
                logger.notice("session timed out unrated (未评价)", metadata: [
                    "window": "\(session.windowId)", "staff": "\(session.staffId ?? "-")",
                    "session": "\(session.id)", "armedBy": "\(session.source.rawValue)",
                    "matter": "\(session.matterCode ?? "-")", "case": "\(session.caseNo ?? "-")",
                ])
            }
        }
    }
}

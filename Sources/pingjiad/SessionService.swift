import Logging
import PingjiaKiosk
import ServiceLifecycle

/// Runs the session engine's clock: a few times a second it closes sessions that timed out and
/// stores each as a 未评价 record (logged with its window and staff member). Between the devices
/// and the web in the group.
struct SessionService: Service {
    let kiosk: KioskContext
    let sessions: SessionEngine
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await record(sessions.takeEvents())
            try? await Task.sleep(for: .milliseconds(200))
        }
        await record(sessions.takeEvents())
        sessions.finishSubscribers()
    }

    private func record(_ events: [SessionEvent]) async {
        for event in events {
            switch event {
            case .timedOut(let session):
                var metadata: Logger.Metadata = [
                    "window": "\(session.windowId)", "staff": "\(session.staffId ?? "-")",
                    "session": "\(session.id)", "armedBy": "\(session.source.rawValue)",
                    "matter": "\(session.matterCode ?? "-")", "case": "\(session.caseNo ?? "-")",
                ]
                do {
                    // On the store's writer thread: the commit waits for fsync.
                    let record = try await kiosk.store.writing { _ throws(KioskError) in try kiosk.recordUnrated(session) }
                    metadata["seq"] = "\(record.seq)"
                    logger.notice("session timed out unrated (未评价)", metadata: metadata)
                } catch {
                    metadata["reason"] = "\(error)"
                    logger.error("session timed out unrated (未评价), NOT recorded", metadata: metadata)
                }
            }
        }
    }
}

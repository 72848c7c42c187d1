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

/// When to ask the hub for this kiosk's configuration: each announcement carries the version the
/// hub holds (from a heartbeat answer) or nil (ask anyway: start-up, the fallback poll).
final class ConfigFetchTrigger: Sendable {
    let announcements: AsyncStream<Int?>
    private let continuation: AsyncStream<Int?>.Continuation

    init() {
        (announcements, continuation) = AsyncStream.makeStream(of: Int?.self, bufferingPolicy: .bufferingNewest(1))
    }

    func announce(_ version: Int?) { continuation.yield(version) }
}

/// Fetches and applies this kiosk's configuration whenever the trigger says so, and, with
/// `poll`, at start and every `poll` as well. A new version is applied live; a hub that cannot
/// be reached costs one failed request and nothing on the press → commit path.
struct RemoteConfigService: Service {
    let client: RemoteConfigClient
    let trigger: ConfigFetchTrigger
    let poll: Duration?
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let poll {
                    group.addTask {
                        while !Task.isCancelled {
                            trigger.announce(nil)
                            try? await Task.sleep(for: poll)
                        }
                    }
                }
                group.addTask {
                    var lastFailure: String?
                    for await version in trigger.announcements {
                        if Task.isCancelled { break }
                        let outcome = await client.sync(knownVersion: version)
                        if case .failed(let reason) = outcome {
                            if reason != lastFailure { logger.info("remote configuration not fetched", metadata: ["reason": "\(reason)"]) }
                            lastFailure = reason
                        } else {
                            lastFailure = nil
                        }
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
        await client.transport.shutdown()
    }
}

/// Keeps the kiosk's roster the hub's roster of its hall (`RosterFollower`): at start and every
/// `every`. An unchanged roster costs one small request (304); a new one is imported whole and
/// the displays redraw with it. A hub that cannot be reached costs nothing else.
struct RosterFollowService: Service {
    let follower: RosterFollower
    let sessions: SessionEngine
    let every: Duration
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var last: RosterFollower.Outcome?
            while !Task.isCancelled {
                let outcome = await follower.step()
                switch outcome {
                case let .applied(hall, added, updated, removed):
                    logger.notice("roster from the hub applied", metadata: [
                        "hall": "\(hall)", "added": "\(added)", "updated": "\(updated)", "removed": "\(removed)"])
                    sessions.redrawDisplays()
                case .noRoster where last != .noRoster:
                    logger.info("the hub holds no roster for this hall: the local roster stays (`pingjia-hub roster import`)")
                case .failed(let reason) where last != outcome:
                    logger.info("roster not fetched", metadata: ["reason": "\(reason)"])
                default:
                    break
                }
                last = outcome
                try? await Task.sleep(for: every)
            }
        }
        await follower.transport.shutdown()
    }
}

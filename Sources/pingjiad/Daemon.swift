import ArgumentParser
import Foundation
import Logging
import NIOCore
import PingjiaConfig
import PingjiaDevices
import PingjiaKiosk
import PingjiaStore
import PingjiaSync
import PingjiaWeb
import ServiceLifecycle

/// The kiosk daemon. It opens the kiosk's state (config, device id, scales, store, recovering a
/// damaged store if needed), drives the USB rating devices through the rating-session engine,
/// serves the window display and the local API, pushes ratings to the hub once the kiosk is
/// enrolled, and runs until SIGTERM or SIGINT.
@main
struct PingjiaDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingjiad",
        abstract: "The Pingjia kiosk daemon: takes ratings, stores them durably, syncs them to the hub."
    )

    /// Reported in the heartbeat.
    static let version = "0.1.0"

    @Option(name: .customLong("state-dir"), help: "State directory (default: $PINGJIA_STATE_DIR, /var/lib/pingjia as root, else ./.pingjia).")
    var stateDir: String?

    @Option(help: "Config file (default: $PINGJIA_CONFIG, else <state-dir>/pingjia.toml).")
    var config: String?

    @Option(name: .customLong("config-poll-seconds"),
            help: ArgumentHelp("Also ask the hub for this kiosk's configuration this often (default: when a heartbeat answer says so; every 60 s with heartbeats off).",
                               visibility: .hidden))
    var configPollSeconds: Double?

    @Option(name: .customLong("roster-poll-seconds"),
            help: ArgumentHelp("Ask the hub for the hall's roster this often (default 300).", visibility: .hidden))
    var rosterPollSeconds: Double = 300

    @Option(name: .customLong("devices-dir"), help: "Another folder of device profiles (repeatable; read after /usr/share/pingjia/devices and /etc/pingjia/devices).")
    var devicesDirs: [String] = []

    func run() async throws {
        Self.sizeForAKiosk()
        // State files hold ratings and the roster; the systemd unit sets the same UMask.
        umask(0o027)
        let location = StateLocation(stateDirectory: stateDir, configFile: config)
        // The config decides the log level, so read it before logging is set up; its errors go
        // to stderr directly.
        let logLevel: Logger.Level
        do {
            logLevel = Logger.Level(rawValue: try KioskConfig.load(location).logLevel) ?? .info
        } catch {
            Self.cannotStart(error)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "pingjiad")

        let kiosk: KioskContext
        let metrics = MetricsExport()
        do {
            kiosk = try KioskContext(location: location, create: true, logger: logger, metrics: metrics.kioskMetrics)
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error)"])
            Self.cannotStart(error)
        }
        // One daemon per state directory; `pingjia pair` and `pingjia setup` check this lock too.
        let daemonLock: DaemonLock
        do {
            guard let lock = try DaemonLock.acquire(location) else {
                throw ConfigEditError("another pingjiad is already running on \(location.stateDirectory)")
            }
            daemonLock = lock
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error)"])
            Self.cannotStart(error)
        }
        let scaleName: String
        do {
            scaleName = try kiosk.scale().name
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error)"])
            Self.cannotStart(error)
        }

        let status = try? kiosk.store.outboxStatus()
        let readyMetadata: Logger.Metadata = [
            "device": "\(kiosk.deviceId)",
            "stateDir": "\(location.stateDirectory)",
            "scale": "\(scaleName)",
            "ratings": "\(status?.count ?? 0)",
            "waitingForHub": "\(status?.pending ?? 0)",
            "storeHealth": "\(status?.health ?? "unknown")",
        ]
        var profiles = ProfileSet.load(directories: ProfileSet.standardDirectories(extra: devicesDirs))
        profiles.checkScales(kiosk.scales, defaultScale: scaleName)
        for problem in profiles.problems {
            logger.error("device profile rejected", metadata: ["problem": "\(problem)"])
        }
        let sessions = SessionEngine(settings: kiosk.config.sessions)
        let health = KioskHealth()
        // Enrolled: armed sessions get a QR code with a token signed by the device key (一事一评).
        var phoneTokens: PhoneTokenIssuer?
        do {
            phoneTokens = try PhoneTokenIssuer.load(keyFile: Enrollment.keyFile(location), deviceId: kiosk.deviceId,
                                                    lifetimeMinutes: { kiosk.config.qrTokenMinutes })
        } catch {
            logger.error("per-transaction QR codes are off: the device key is unusable", metadata: ["reason": "\(error)"])
        }
        let attached = AttachedDevices()
        let (webReady, webReadyContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        // Services in dependency order: the store first, then USB devices, sessions, the local web
        // and sync. The group stops them in reverse, so the web and USB have let go and sync has
        // stopped sending before the store closes.
        var services: [any Service] = [StoreService(kiosk: kiosk, logger: logger, readyMetadata: readyMetadata),
                                       DeviceService(kiosk: kiosk, profiles: profiles, sessions: sessions, health: health, attached: attached,
                                                     logger: logger),
                                       SessionService(kiosk: kiosk, sessions: sessions, logger: logger),
                                       WebService(web: WebContext(kiosk: kiosk, sessions: sessions, health: health, metrics: metrics,
                                                                     phoneTokens: phoneTokens),
                                                  settings: kiosk.config.web, logger: logger, ready: webReadyContinuation),
                                       ConfigFollowerService(live: kiosk.live, sessions: sessions)]
        do {
            let syncLogger = Logger(label: "pingjiad.sync")
            if let server = try SyncSetup.server(location: location, config: kiosk.config, store: kiosk.store, logger: syncLogger) {
                services.append(server)
            }
            if kiosk.config.sync.mode == .pull {
                logger.info("sync: pull mode, the hub fetches ratings from this kiosk")
                if kiosk.config.sync.retentionDays > 0 {
                    services.append(RetentionService(store: kiosk.store, days: kiosk.config.sync.retentionDays, logger: syncLogger))
                }
            } else if let pusher = try SyncSetup.pusher(location: location, config: kiosk.config, store: kiosk.store,
                                                        logger: syncLogger) {
                services.append(SyncService(pusher: pusher, logger: logger))
                // Remote configuration: fetched when a heartbeat answer names a version other than
                // the one applied; polled only when heartbeats are off (or --config-poll-seconds).
                let configClient = try SyncSetup.remoteConfig(location: location, deviceId: kiosk.deviceId, live: kiosk.live,
                                                              scales: kiosk.scales, logger: syncLogger)
                let configTrigger = ConfigFetchTrigger()
                // After the push loop: it reads what the others keep, and a heartbeat that gets
                // through wakes the push loop out of its backoff.
                var hooks = HeartbeatService.Hooks()
                // The live config: keypad pairings may change by remote configuration.
                let live = kiosk.live
                hooks.snapshot = { FleetSnapshot.take(config: live.config, sessions: sessions, devices: attached) }
                hooks.onReachable = { pusher.wake() }
                hooks.appliedConfigVersion = { configClient?.appliedVersion }
                hooks.configRefused = { configClient?.refused.map { .init(version: $0.version, reason: $0.reason) } }
                // The hall's roster as the hub holds it: followed, and its digest reported.
                let rosterFollower = try SyncSetup.rosterFollower(location: location, config: kiosk.config, store: kiosk.store)
                hooks.appliedRosterDigest = { rosterFollower?.appliedDigest }
                hooks.onAnswer = { answer in
                    if let version = answer.configVersion { configTrigger.announce(version) }
                }
                let heartbeat = try SyncSetup.heartbeat(location: location, config: kiosk.config, store: kiosk.store,
                                                        version: Self.version, hooks: hooks, logger: syncLogger)
                if let heartbeat { services.append(heartbeat) }
                if let configClient {
                    let poll = configPollSeconds ?? (heartbeat == nil ? 60 : nil)
                    services.append(RemoteConfigService(client: configClient, trigger: configTrigger,
                                                        poll: poll.map { .milliseconds(Int(max($0, 0.05) * 1000)) }, logger: syncLogger))
                }
                if let rosterFollower {
                    services.append(RosterFollowService(follower: rosterFollower, sessions: sessions,
                                                        every: .milliseconds(Int(max(rosterPollSeconds, 0.05) * 1000)), logger: syncLogger))
                }
                services.append(NetlinkWatcher(logger: syncLogger) { pusher.wake() })
            } else {
                logger.notice("sync is off: this kiosk is not enrolled with a hub (pingjia enroll --hub URL --code CODE)")
            }
        } catch {
            logger.critical("cannot start", metadata: ["reason": "\(error)"])
            kiosk.close()
            Self.cannotStart(error)
        }
        // Last, so the first to stop: STOPPING=1 goes out as soon as the shutdown begins.
        services.append(NotifyService(notifier: SystemdNotifier(), webReady: webReady,
                                      health: StoreHealthCheck(kiosk: kiosk),
                                      watchdogInterval: SystemdNotifier.watchdogInterval(), logger: logger))
        let group = ServiceGroup(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        try await group.run()
        withExtendedLifetime(daemonLock) {}
        logger.info("stopped")
    }
}

/// Keeps the store open for the life of the process and closes it last, on graceful shutdown,
/// so a SIGTERM never interrupts a commit.
struct StoreService: Service {
    let kiosk: KioskContext
    let logger: Logger
    let readyMetadata: Logger.Metadata

    func run() async throws {
        // Logged from inside the service group, which has trapped SIGTERM/SIGINT before starting
        // its services: a supervisor that stops us as soon as it sees "ready" gets a graceful
        // shutdown, not the default action of the signal (killed, exit by signal).
        logger.info("ready", metadata: readyMetadata)
        try? await gracefulShutdown()
        logger.info("shutting down: closing the store")
        kiosk.close()
    }
}

extension PingjiaDaemon {
    /// A kiosk serves one hall window's display and a few local requests: one event-loop thread
    /// (SwiftNIO's default is one per core) and one for NIO's blocking pool are plenty, and glibc
    /// gets two malloc arenas instead of one per thread (up to 8 per core), each of which keeps
    /// the memory it once held. Before anything starts NIO's shared threads.
    static func sizeForAKiosk() {
        NIOSingletons.groupLoopCountSuggestion = 1
        NIOSingletons.blockingPoolThreadCountSuggestion = 1
        // mallopt(M_ARENA_MAX, 2): glibc's malloc.h is not part of Swift's Glibc module.
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mArenaMax: Int32 = -8
        if let mallopt = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
            _ = unsafeBitCast(mallopt, to: Mallopt.self)(mArenaMax, 2)
        }
    }

    /// One plain line per problem on stderr and exit status 1, which systemd shows in the journal.
    static func cannotStart(_ error: any Error) -> Never {
        for line in String(describing: error).split(separator: "\n") {
            FileHandle.standardError.write(Data("pingjiad: cannot start: \(line)\n".utf8))
        }
        Foundation.exit(1)
    }
}

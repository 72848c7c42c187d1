import Foundation
import Logging
import PingjiaConfig
import PingjiaStore
import PingjiaSyncProtocol
import ServiceLifecycle

/// Builds the parts of an enrolled device that talk to the hub, from its state directory and config.
public enum SyncSetup {
    /// What every request to the hub needs: this device's key, the hub's key to check answers
    /// with, and an HTTP client of its own (so each part can stop apart from the others).
    struct HubLink {
        let key: SigningKey
        let hubKey: PublicKey
        let transport: HTTPHubTransport
    }

    /// The link of an enrolled device, or nil when it is not enrolled.
    static func link(location: StateLocation, deviceId: String, config: KioskConfig, timeout: Duration,
                     maxResponseBytes: Int = 1 << 20) throws(SyncError) -> HubLink? {
        guard let enrollment = try Enrollment.load(location) else { return nil }
        guard enrollment.deviceId == deviceId else {
            throw .enrollment("\(Enrollment.file(location)) is for device \(enrollment.deviceId), this is \(deviceId): enroll this device itself")
        }
        let key: SigningKey
        do { key = try SigningKey.load(path: Enrollment.keyFile(location), create: false) } catch { throw .enrollment(error.description) }
        guard let hubKey = PublicKey(base64: enrollment.hubPublicKey) else {
            throw .enrollment("\(Enrollment.file(location)): the hub's public key is damaged; enroll again")
        }
        do {
            let transport = try HTTPHubTransport(baseURL: config.sync.hubURL ?? enrollment.hubURL, caBundle: config.sync.caBundle,
                                                 timeout: timeout, maxResponseBytes: maxResponseBytes)
            return HubLink(key: key, hubKey: hubKey, transport: transport)
        } catch {
            throw .enrollment("cannot set up HTTPS with ca_bundle \(config.sync.caBundle ?? ""): \(error)")
        }
    }

    /// The pusher and its transport, or nil when the device is not enrolled.
    public static func pusher(location: StateLocation, config: KioskConfig, store: KioskStore,
                              logger: Logger, timeout: Duration = .seconds(30)) throws(SyncError) -> Pusher? {
        guard let link = try link(location: location, deviceId: store.deviceId, config: config, timeout: timeout) else { return nil }
        let (key, hubKey, transport) = (link.key, link.hubKey, link.transport)
        var settings = PushSettings()
        settings.batchRecords = config.sync.batchRecords
        settings.batchBytes = config.sync.batchBytes
        settings.retentionDays = config.sync.retentionDays > 0 ? config.sync.retentionDays : nil
        return Pusher(store: store, key: key, hubKey: hubKey, transport: transport, settings: settings, logger: logger)
    }
}

extension SyncSetup {
    /// The kiosk's sync endpoints (`/healthz`, and the outbox in pull mode) when `[sync] listen`
    /// is set; nil otherwise. In pull mode the device must be enrolled (it checks the hub's key).
    public static func server(location: StateLocation, config: KioskConfig, store: KioskStore,
                              logger: Logger) throws(SyncError) -> (any Service)? {
        guard let host = config.sync.listenHost, let port = config.sync.listenPort else { return nil }
        let enrollment = try Enrollment.load(location)
        if config.sync.mode == .pull && enrollment == nil { throw .notEnrolled(location.stateDirectory) }
        // Without an enrollment only /healthz answers; the outbox needs the hub's key.
        let hubKey = enrollment.flatMap { PublicKey(base64: $0.hubPublicKey) } ?? SigningKey().publicKey
        let key: SigningKey
        do {
            key = enrollment == nil ? SigningKey() : try SigningKey.load(path: Enrollment.keyFile(location), create: false)
        } catch {
            throw .enrollment(error.description)
        }
        return buildPullApplication(store: store, key: key, hubKey: hubKey, host: host, port: port,
                                    batchRecords: config.sync.batchRecords, batchBytes: config.sync.batchBytes,
                                    servesOutbox: config.sync.mode == .pull && enrollment != nil, logger: logger) { port in
            logger.info("sync endpoints listening", metadata: ["address": "\(host):\(port)", "mode": "\(config.sync.mode.rawValue)"])
        }
    }
}

/// The push loop as a service of `pingjiad`'s group, after the store: on SIGTERM it stops first
/// (an interrupted request is simply sent again later), then the store closes.
public struct SyncService: Service {
    let pusher: Pusher
    let logger: Logger

    public init(pusher: Pusher, logger: Logger) {
        self.pusher = pusher
        self.logger = logger
    }

    public func run() async throws {
        logger.info("sync: pushing to the hub", metadata: ["hub": "\((pusher.transport as? HTTPHubTransport)?.baseURL ?? "?")"])
        await cancelWhenGracefulShutdown {
            await pusher.run()
        }
        await pusher.transport.shutdown()
        logger.info("sync: stopped")
    }
}

/// Pruning by `retention_days` for a kiosk in pull mode, where no push loop runs: once at start,
/// then hourly. (In push mode the push loop prunes when it is idle.)
public struct RetentionService: Service {
    let store: KioskStore
    let days: Int
    let logger: Logger

    public init(store: KioskStore, days: Int, logger: Logger) {
        self.store = store
        self.days = days
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let cutoff = Date().addingTimeInterval(-Double(days) * 86400)
                    let removed = try await store.writing { try $0.pruneAcknowledged(ratedBefore: cutoff) }
                    if removed > 0 { logger.info("pruned acknowledged ratings", metadata: ["count": "\(removed)", "olderThanDays": "\(days)"]) }
                } catch {
                    logger.error("pruning failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}

import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaStore
import PingjiaSyncProtocol
import Synchronization

/// The kiosk's side of remote configuration: fetches its document from the hub (request signed
/// with the device key), checks the hub's signature, validates it with the strict config parser
/// merged under the local file, writes it to the state directory atomically, swaps it into the
/// running configuration, and tells the hub the result. A document that fails any check is
/// refused: the running configuration stays as it was.
public final class RemoteConfigClient: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// No document on the hub for this device.
        case none
        case unchanged(version: Int)
        case applied(version: Int, overrides: [String])
        case refused(version: Int, reason: String)
        /// The hub could not be asked (offline, 5xx): tried again later.
        case failed(String)
    }

    let location: StateLocation
    let deviceId: String
    let key: SigningKey
    let hubKey: PublicKey
    public let transport: any HubTransport
    let live: LiveConfig
    let scales: ScaleCatalog
    let logger: Logger
    private let refusal = Mutex<(version: Int, reason: String)?>(nil)

    public init(location: StateLocation, deviceId: String, key: SigningKey, hubKey: PublicKey, transport: any HubTransport,
                live: LiveConfig, scales: ScaleCatalog, logger: Logger) {
        self.location = location
        self.deviceId = deviceId
        self.key = key
        self.hubKey = hubKey
        self.transport = transport
        self.live = live
        self.scales = scales
        self.logger = logger
    }

    /// The hub's version running now, if any.
    public var appliedVersion: Int? { live.current.remoteVersion }
    /// The last version refused and why (until a later one is applied).
    public var refused: (version: Int, reason: String)? { refusal.withLock { $0 } }

    /// Fetches the device's configuration and applies it when its version is not the one
    /// running. `knownVersion` (from a heartbeat answer) skips the fetch when it is already
    /// applied or already refused.
    public func sync(knownVersion: Int? = nil) async -> Outcome {
        if let knownVersion {
            if knownVersion == appliedVersion { return .unchanged(version: knownVersion) }
            if let refused, refused.version == knownVersion { return .refused(version: refused.version, reason: refused.reason) }
        }
        let path = "/v1/devices/\(deviceId)/config"
        let response: HubResponse
        do {
            response = try await transport.send(method: "GET", path: path,
                                                headers: DeviceAuth.headers(method: "GET", target: path, key: key), body: nil)
        } catch {
            return .failed("cannot reach the hub: \(error)")
        }
        if response.status == 404, (try? JSONDecoder().decode(Problem.self, from: Data(response.body)))?.type == "no-config" {
            return .none
        }
        guard response.status == 200 else { return .failed("the hub answered " + describeProblem(response)) }
        guard let signed = try? JSONDecoder().decode(SignedConfig.self, from: Data(response.body)) else {
            return .failed("the hub's answer is not a configuration document")
        }
        if signed.version == appliedVersion { return .unchanged(version: signed.version) }
        if let refused, refused.version == signed.version { return .refused(version: refused.version, reason: refused.reason) }
        // Off the cooperative pool: applying writes remote-config.json and waits for its fsync.
        let outcome = await runBlocking { self.apply(signed) }
        await report(outcome)
        return outcome
    }

    /// Checks and applies one signed document (no network).
    public func apply(_ signed: SignedConfig) -> Outcome {
        let outcome = judgeAndApply(signed)
        switch outcome {
        case let .refused(version, reason):
            refusal.withLock { $0 = (version, reason) }
            logger.error("remote configuration refused; the running configuration stays",
                         metadata: ["version": "\(version)", "reason": "\(reason)"])
        case let .applied(version, overrides):
            refusal.withLock { if let refused = $0, refused.version <= version { $0 = nil } }
            logger.notice("remote configuration applied", metadata: [
                "version": "\(version)", "fromHub": "\(live.current.remoteKeys.joined(separator: ","))",
                "localOverrides": "\(overrides.joined(separator: ","))",
            ])
        default:
            break
        }
        return outcome
    }

    private func judgeAndApply(_ signed: SignedConfig) -> Outcome {
        let version = signed.version
        guard signed.isSigned(by: hubKey) else {
            return .refused(version: version, reason: "the document is not signed by the hub this kiosk enrolled with")
        }
        guard signed.deviceId == deviceId else {
            return .refused(version: version, reason: "the document is for device \(signed.deviceId), this is \(deviceId)")
        }
        if let applied = appliedVersion, version < applied {
            return .refused(version: version, reason: "version \(version) is older than the applied version \(applied)")
        }
        let applied = AppliedRemoteConfig(version: version, hallDocument: signed.hallDocument, deviceDocument: signed.deviceDocument,
                                          issuedAt: signed.issuedAt, signature: signed.signature, appliedAt: WireTime.format(Date()))
        let next: EffectiveConfig
        do {
            next = try live.current.applying(applied)
        } catch {
            return .refused(version: version, reason: error.description)
        }
        do {
            _ = try scales.scale(named: next.config.scale)
        } catch {
            return .refused(version: version, reason: "[rating] scale: \(error.description)")
        }
        // On disk first: a restart after this point comes up with the new configuration.
        do {
            try applied.save(location)
        } catch {
            return .refused(version: version, reason: "cannot keep it in the state directory: \(error.description)")
        }
        live.replace(next)
        return .applied(version: version, overrides: next.overrides)
    }

    /// Tells the hub what became of a version; a failure is only logged (the next fetch, or
    /// the heartbeat's `appliedConfigVersion` / `configRefused`, tells it again).
    func report(_ outcome: Outcome) async {
        let result: ConfigResult
        switch outcome {
        case let .applied(version, overrides): result = ConfigResult(version: version, applied: true, reason: nil, overrides: overrides)
        case let .refused(version, reason): result = ConfigResult(version: version, applied: false, reason: reason, overrides: [])
        default: return
        }
        let path = "/v1/devices/\(deviceId)/config/result"
        do {
            let body = Array(try JSONEncoder().encode(result))
            let response = try await transport.send(method: "POST", path: path,
                                                    headers: DeviceAuth.headers(method: "POST", target: path, body: body, key: key), body: body)
            if response.status != 200 {
                logger.warning("the hub did not take the configuration result", metadata: ["answer": "\(describeProblem(response))"])
            }
        } catch {
            logger.warning("cannot tell the hub the configuration result", metadata: ["reason": "\(error)"])
        }
    }
}

extension SyncSetup {
    /// The remote configuration client, or nil when the device is not enrolled.
    public static func remoteConfig(location: StateLocation, deviceId: String, live: LiveConfig, scales: ScaleCatalog,
                                    logger: Logger, timeout: Duration = .seconds(30)) throws(SyncError) -> RemoteConfigClient? {
        guard let link = try link(location: location, deviceId: deviceId, config: live.config, timeout: timeout) else { return nil }
        return RemoteConfigClient(location: location, deviceId: deviceId, key: link.key, hubKey: link.hubKey, transport: link.transport,
                                  live: live, scales: scales, logger: logger)
    }

    /// The follower of the hall's roster on the hub, or nil when the device is not enrolled.
    public static func rosterFollower(location: StateLocation, config: KioskConfig, store: KioskStore,
                                      timeout: Duration = .seconds(30)) throws(SyncError) -> RosterFollower? {
        guard let link = try link(location: location, deviceId: store.deviceId, config: config, timeout: timeout) else { return nil }
        return RosterFollower(store: store, key: link.key, hubKey: link.hubKey, transport: link.transport)
    }
}

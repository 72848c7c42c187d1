import Foundation
import Logging
import PingjiaConfig
import PingjiaStore
import PingjiaSyncProtocol

extension SyncSetup {
    /// The heartbeat of an enrolled kiosk in push mode, or nil (not enrolled, pull mode, or
    /// `heartbeat_seconds = 0`). It has its own HTTP client, so it can stop apart from the push loop.
    public static func heartbeat(location: StateLocation, config: KioskConfig, store: KioskStore, version: String,
                                 hooks: HeartbeatService.Hooks, logger: Logger) throws(SyncError) -> HeartbeatService? {
        guard config.sync.mode == .push, config.sync.heartbeatSeconds > 0, let enrollment = try Enrollment.load(location) else { return nil }
        let key: SigningKey
        do { key = try SigningKey.load(path: Enrollment.keyFile(location), create: false) } catch { throw .enrollment(error.description) }
        guard let hubKey = PublicKey(base64: enrollment.hubPublicKey) else {
            throw .enrollment("\(Enrollment.file(location)): the hub's public key is damaged; enroll again")
        }
        let transport: HTTPHubTransport
        do {
            // Short: a heartbeat that cannot get through in 10 s is skipped, not waited for.
            transport = try HTTPHubTransport(baseURL: config.sync.hubURL ?? enrollment.hubURL, caBundle: config.sync.caBundle,
                                             timeout: .seconds(10), maxResponseBytes: 64 * 1024)
        } catch {
            throw .enrollment("cannot set up HTTPS with ca_bundle \(config.sync.caBundle ?? ""): \(error)")
        }
        var settings = HeartbeatSettings()
        settings.interval = .seconds(config.sync.heartbeatSeconds)
        settings.version = version
        return HeartbeatService(store: store, key: key, hubKey: hubKey, transport: transport, settings: settings, hooks: hooks, logger: logger)
    }
}

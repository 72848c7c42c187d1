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
        guard config.sync.mode == .push, config.sync.heartbeatSeconds > 0,
              // Short: a heartbeat that cannot get through in 10 s is skipped, not waited for.
              let link = try link(location: location, deviceId: store.deviceId, config: config, timeout: .seconds(10),
                                  maxResponseBytes: 64 * 1024) else { return nil }
        let (key, hubKey, transport) = (link.key, link.hubKey, link.transport)
        var settings = HeartbeatSettings()
        settings.interval = .seconds(config.sync.heartbeatSeconds)
        settings.version = version
        return HeartbeatService(store: store, key: key, hubKey: hubKey, transport: transport, settings: settings, hooks: hooks, logger: logger)
    }
}

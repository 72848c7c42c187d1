import Foundation
import Hummingbird
import PingjiaConfig

/// `GET /api/v1/config`: the configuration running now, where each remotely settable key comes
/// from (the hub's version, keys it sets, keys the local file overrides).
struct ConfigAPI: Sendable {
    let web: WebContext

    struct Answer: Encodable {
        var remoteVersion: Int?
        var fromHub: [String]
        var localOverrides: [String]
        var scale: String
        var qrURLTemplate: String
        var sessionMode: String
        var windows: [String: String]
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/api/v1/config") { _, _ in
            let current = web.kiosk.live.current
            let config = current.config
            let windows = Dictionary(uniqueKeysWithValues: config.sessions.windows.keys.map { ($0, config.sessions.mode($0).rawValue) })
            return try json(Answer(remoteVersion: current.remoteVersion, fromHub: current.remoteKeys, localOverrides: current.overrides,
                                   scale: config.scale, qrURLTemplate: config.qrURLTemplate.template,
                                   sessionMode: config.sessions.mode.rawValue, windows: windows))
        }
    }
}

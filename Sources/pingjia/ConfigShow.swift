import ArgumentParser
import Foundation
import PingjiaConfig

/// `pingjia config show`: the remotely settable settings this kiosk runs with and where each comes
/// from: the hub's configuration, the local file (which wins), or the default.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "The kiosk's configuration: the local file over the hub's.",
        subcommands: [Show.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The settings in effect and where each comes from (hub, local override, default).")
        @OptionGroup var state: StateOptions

        func run() async throws {
            let location = state.location
            var effective: EffectiveConfig
            do {
                effective = try EffectiveConfig.loadLocal(location)
            } catch {
                Self.fail(Failure(error.description))
            }
            var remoteProblem: String?
            do {
                if let applied = try AppliedRemoteConfig.load(location) {
                    do { effective = try effective.applying(applied) } catch { remoteProblem = error.description }
                }
            } catch {
                remoteProblem = error.description
            }
            if let remote = effective.remote {
                print("hub configuration: version \(remote.version), applied \(remote.appliedAt)")
            } else {
                print("hub configuration: none applied")
            }
            if let remoteProblem { print("hub configuration kept but NOT in effect: \(remoteProblem)") }
            let local = Set(effective.localLayer.keyPaths)
            let hub = Set(effective.remoteLayer.keyPaths)
            let config = effective.config
            var keys = ["rating.scale", "qr.url_template", "qr.error_correction", "session.mode", "session.timeout_ms", "session.min_interval_ms"]
            for id in config.sessions.windows.keys.sorted() {
                keys += ["mode", "timeout_ms", "min_interval_ms"].map { "window.\(id).\($0)" }.filter { local.contains($0) || hub.contains($0) }
            }
            for key in keys {
                let source = local.contains(key) ? (hub.contains(key) ? "local override (the hub sets it too)" : "local")
                    : hub.contains(key) ? "hub"
                    : key == "qr.url_template" && HubQRDefault.load(location) != nil ? "the phone page of the hub enrolled with" : "default"
                print("\(key) = \(Self.value(key, config))\t# \(source)")
            }
        }

        static func value(_ key: String, _ config: KioskConfig) -> String {
            let parts = key.split(separator: ".").map(String.init)
            switch (parts.first, parts.last) {
            case ("rating", _): return "\"\(config.scale)\""
            case (_, "url_template"): return "\"\(config.qrURLTemplate.template)\""
            case (_, "error_correction"): return "\"\(config.qrErrorCorrection.rawValue)\""
            case ("session", "mode"): return "\"\(config.sessions.mode.rawValue)\""
            case ("session", "timeout_ms"): return "\(config.sessions.timeoutMs)"
            case ("session", "min_interval_ms"): return "\(config.sessions.minIntervalMs)"
            case ("window", "mode"): return "\"\(config.sessions.mode(parts[1]).rawValue)\""
            case ("window", "timeout_ms"): return "\(config.sessions.timeoutNs(parts[1]) / 1_000_000)"
            case ("window", "min_interval_ms"): return "\(config.sessions.minIntervalNs(parts[1]) / 1_000_000)"
            default: return "?"
            }
        }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a kiosk keeps its state (store, config, photos) and which config file it reads.
///
/// Precedence for both: the command-line option, then the environment
/// (`PINGJIA_STATE_DIR`, `PINGJIA_CONFIG`), then the default: `/var/lib/pingjia` when running as
/// root (the systemd unit's `StateDirectory=`), `./.pingjia` otherwise, so a developer's
/// `make run` never needs root. The config defaults to `pingjia.toml` inside the state directory.
public struct StateLocation: Sendable, Equatable {
    public static let systemStateDirectory = "/var/lib/pingjia"
    public static let userStateDirectory = ".pingjia"
    public static let configFileName = "pingjia.toml"
    public static let storeFileName = "pingjia.db"

    public let stateDirectory: String
    public let configFile: String
    /// True when the config path was chosen by the user rather than defaulted: then it must exist.
    public let configIsExplicit: Bool

    public init(stateDirectory: String?, configFile: String?,
                environment: [String: String] = ProcessInfo.processInfo.environment,
                isRoot: Bool = getuid() == 0) {
        let state = stateDirectory.nonEmpty ?? environment["PINGJIA_STATE_DIR"].nonEmpty
            ?? (isRoot ? StateLocation.systemStateDirectory : StateLocation.userStateDirectory)
        self.stateDirectory = StateLocation.absolute(state)
        let explicitConfig = configFile.nonEmpty ?? environment["PINGJIA_CONFIG"].nonEmpty
        self.configFile = explicitConfig.map(StateLocation.absolute)
            ?? (self.stateDirectory as NSString).appendingPathComponent(StateLocation.configFileName)
        configIsExplicit = explicitConfig != nil
    }

    public var storeFile: String { path(StateLocation.storeFileName) }
    public var photosDirectory: String { path("photos") }
    /// A hall's own scale files, which override the shipped ones of the same name.
    public var scalesDirectory: String { path("scales") }

    public func path(_ component: String) -> String {
        (stateDirectory as NSString).appendingPathComponent(component)
    }

    private static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        let cwd = FileManager.default.currentDirectoryPath
        return ((cwd as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }
}

extension Optional where Wrapped == String {
    var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}

import Foundation

/// Whose configuration document: every device of a hall, or one device (over its hall's).
public enum ConfigScope: Sendable, Equatable, CustomStringConvertible {
    case hall(String)
    case device(String)

    var kind: String {
        switch self {
        case .hall: "hall"
        case .device: "device"
        }
    }

    var target: String {
        switch self {
        case let .hall(name), let .device(name): name
        }
    }

    public var description: String { "\(kind) '\(target)'" }
}

/// What a device is sent: its version and the two documents it combines (hall under device).
public struct RemoteConfigEntry: Sendable, Equatable {
    public let deviceId: String
    public let hall: String
    public let version: Int
    public let hallDocument: String?
    public let deviceDocument: String?
}

/// One device's remote configuration as `pingjia-hub config status` shows it.
public struct RemoteConfigStatus: Sendable, Equatable, Codable {
    public let deviceId: String
    public let hall: String
    public let name: String
    /// The version the hub holds for it; nil when no document reaches it.
    public let latestVersion: Int?
    public let appliedVersion: Int?
    public let appliedAt: String?
    public let refusedVersion: Int?
    public let refusedReason: String?
    public let refusedAt: String?
    /// Keys of the hub's document the device's local file overrides (local wins).
    public let overrides: [String]
    /// The hall's roster on the device: "current" (its last heartbeat names the roster the hub
    /// holds), "behind", "unknown" (no such heartbeat yet) or "none" (the hub holds no roster).
    public var roster: String?
}

/// The hub's remote configuration: documents per hall and per device, a version per device that
/// goes up with every change reaching it, and what each device did with it.
public protocol RemoteConfigStorage: Sendable {
    /// Stores the document of a hall or a device (already validated) and gives every enrolled
    /// device it reaches a new version. Returns those devices and versions; none when the
    /// document is unchanged. A device scope must name an enrolled device.
    func setConfigDocument(_ scope: ConfigScope, document: String, now: Date) async throws(HubError) -> [(deviceId: String, version: Int)]
    func configDocument(_ scope: ConfigScope) async throws(HubError) -> String?
    /// The configuration to send `deviceId`, or nil when no document reaches it. A device that
    /// enrolled after its hall's document was set gets version 1 here.
    func remoteConfig(deviceId: String) async throws(HubError) -> RemoteConfigEntry?
    /// The version `remoteConfig` would send, read only (for heartbeat answers); nil when none.
    func configVersion(deviceId: String) async throws(HubError) -> Int?
    /// The device applied `version` (refusal nil) or refused it, saying why.
    func recordConfigResult(deviceId: String, version: Int, refusal: String?, overrides: [String], at: Date) async throws(HubError)
    /// What a heartbeat says the device runs (`applied`) or last refused: recorded only where it
    /// is news to the hub (a `config/result` request that was lost): an applied version above the
    /// one held, a refusal of a version above the applied one that differs from the one held.
    /// No-op for a device with no configuration row.
    func recordHeartbeatConfig(deviceId: String, applied: Int?, refused: (version: Int, reason: String)?, at: Date) async throws(HubError)
    func remoteConfigStatus() async throws(HubError) -> [RemoteConfigStatus]
}

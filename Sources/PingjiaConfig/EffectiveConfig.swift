import Foundation
import PingjiaCore
import PingjiaTOML
import Synchronization

/// The hub's configuration as this kiosk last applied it, kept in `<state-dir>/remote-config.json`
/// so a restart comes up with it. The hub's signature is kept beside the documents it covers.
public struct AppliedRemoteConfig: Codable, Sendable, Equatable {
    public var version: Int
    /// The hall's document and this device's own (TOML text), either may be absent.
    public var hallDocument: String?
    public var deviceDocument: String?
    public var issuedAt: String
    public var signature: String
    public var appliedAt: String

    public init(version: Int, hallDocument: String?, deviceDocument: String?, issuedAt: String, signature: String, appliedAt: String) {
        self.version = version
        self.hallDocument = hallDocument
        self.deviceDocument = deviceDocument
        self.issuedAt = issuedAt
        self.signature = signature
        self.appliedAt = appliedAt
    }

    public static func file(_ location: StateLocation) -> String { location.path("remote-config.json") }

    public static func load(_ location: StateLocation) throws(ConfigEditError) -> AppliedRemoteConfig? {
        let path = file(location)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(AppliedRemoteConfig.self, from: data)
        } catch {
            throw ConfigEditError("\(path) is damaged (\(error)); remove it and the hub's configuration is fetched again")
        }
    }

    /// temp + fsync + rename + fsync of the directory: after a power cut the file is the old or the new one.
    public func save(_ location: StateLocation) throws(ConfigEditError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data: Data
        do { data = try encoder.encode(self) } catch { throw ConfigEditError("cannot encode the remote configuration: \(error)") }
        try AtomicFile.write(data, to: Self.file(location), mode: 0o640)
    }

    /// The hub's layers, hall under device, each checked by the strict parser.
    public func layer() throws(TOMLProblems) -> ConfigLayer {
        var layer = ConfigLayer()
        if let hallDocument {
            layer = try ConfigLayer.parseRemote(text: hallDocument, file: "hub configuration v\(version) (hall document)")
        }
        if let deviceDocument {
            layer = layer.overlaid(by: try ConfigLayer.parseRemote(text: deviceDocument, file: "hub configuration v\(version) (device document)"))
        }
        return layer
    }
}

/// The configuration a kiosk runs with: its local file over the hub's layers.
public struct EffectiveConfig: Sendable, Equatable {
    public private(set) var config: KioskConfig
    /// The local file alone, and the remotely settable keys it writes.
    public let local: KioskConfig
    public let localLayer: ConfigLayer
    /// The hub's configuration in effect, if any.
    public private(set) var remote: AppliedRemoteConfig?
    public private(set) var remoteLayer = ConfigLayer()

    public init(local: KioskConfig, localLayer: ConfigLayer) {
        self.config = local
        self.local = local
        self.localLayer = localLayer
    }

    public var remoteVersion: Int? { remote?.version }
    /// Keys the hub sets that the local file overrides (local wins).
    public var overrides: [String] { remoteLayer.overriddenKeys(by: localLayer) }
    /// Keys whose value comes from the hub.
    public var remoteKeys: [String] {
        let local = Set(localLayer.keyPaths)
        return remoteLayer.keyPaths.filter { !local.contains($0) }
    }

    /// This configuration with `remote` as the hub's layers. Throws the documents' problems.
    public func applying(_ remote: AppliedRemoteConfig) throws(TOMLProblems) -> EffectiveConfig {
        var next = EffectiveConfig(local: local, localLayer: localLayer)
        let layer = try remote.layer()
        var config = local
        layer.overlaid(by: localLayer).apply(to: &config)
        next.config = config
        next.remote = remote
        next.remoteLayer = layer
        return next
    }

    /// The local file of `location` (defaults when the default file is missing). The QR link
    /// defaults to the phone page of the hub this kiosk enrolled with (`HubQRDefault`); the hub's
    /// configuration and the local file still override it.
    public static func loadLocal(_ location: StateLocation) throws(TOMLProblems) -> EffectiveConfig {
        var local = try KioskConfig.load(location)
        var layer = ConfigLayer()
        if let data = FileManager.default.contents(atPath: location.configFile) {
            layer = try ConfigLayer.written(in: String(decoding: data, as: UTF8.self), file: location.configFile)
        }
        if layer.qrURLTemplate == nil, let hubDefault = HubQRDefault.load(location) {
            local.qrURLTemplate = hubDefault
        }
        return EffectiveConfig(local: local, localLayer: layer)
    }
}

/// The one holder of the running configuration. Readers take a snapshot per use (a session, a
/// page render) and never keep it, so a change reaches the next one; `changes()` tells those that
/// must push it (the display's event streams). Never touched on the press → commit path except
/// for a lock-protected copy, which does no I/O.
public final class LiveConfig: Sendable {
    private struct State {
        var current: EffectiveConfig
        var subscribers: [UUID: AsyncStream<EffectiveConfig>.Continuation] = [:]
    }

    private let state: Mutex<State>

    public init(_ initial: EffectiveConfig) { state = Mutex(State(current: initial)) }

    public var current: EffectiveConfig { state.withLock { $0.current } }
    public var config: KioskConfig { state.withLock { $0.current.config } }

    public func replace(_ next: EffectiveConfig) {
        state.withLock { state in
            state.current = next
            for continuation in state.subscribers.values { continuation.yield(next) }
        }
    }

    /// Every configuration replaced from now on, newest first when the reader lags.
    public func changes() -> AsyncStream<EffectiveConfig> {
        let (stream, continuation) = AsyncStream.makeStream(of: EffectiveConfig.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        state.withLock { $0.subscribers[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }
}

/// The QR link the hub handed out at enrollment (`qrURLTemplate` in `sync/enrollment.json`,
/// written by PingjiaSync's `Enrollment`): the phone page under the hub's `--public-url`.
public enum HubQRDefault {
    private struct Fields: Decodable { var qrURLTemplate: String? }

    /// Nil before enrollment, from a hub without a public URL, or when the file cannot be read
    /// (sync reports a damaged enrollment itself).
    public static func load(_ location: StateLocation) -> URLTemplate? {
        guard let data = FileManager.default.contents(atPath: location.path("sync/enrollment.json")),
              let text = (try? JSONDecoder().decode(Fields.self, from: data))?.qrURLTemplate else { return nil }
        return try? URLTemplate(text)
    }
}

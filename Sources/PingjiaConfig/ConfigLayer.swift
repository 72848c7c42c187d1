import Foundation
import PingjiaCore
import PingjiaQR
import PingjiaTOML

/// The settings of `pingjia.toml` a hub may set remotely, as the keys one document (or the local
/// file) actually writes: nil means "not set here". A kiosk's effective config is its local file
/// with the hub's layers under it: hall document, then device document, then the local file,
/// each key taken from the highest layer that sets it.
///
/// Only what a running pingjiad can take without a restart and without losing its way back to
/// the hub is remote: `[rating]`, `[qr]`, `[session]`, `[[window]]`. The rest stays local, for the
/// reason `localOnlySections` gives.
public struct ConfigLayer: Sendable, Equatable {
    public var scale: String?
    public var qrURLTemplate: URLTemplate?
    public var qrErrorCorrection: QRErrorCorrection?
    public var qrTokenMinutes: Int?
    /// `[session]`: the defaults of every window.
    public var session = WindowSettings()
    /// `[[window]]`: per window, only the keys written.
    public var windows: [String: WindowSettings] = [:]

    public init() {}

    /// The sections a remote document may hold.
    public static let remoteSections = ["rating", "qr", "session", "window"]

    /// The sections that stay in the kiosk's own file, and why.
    public static let localOnlySections: [String: String] = [
        "device": "the device's name and hall are its identity, set at enrollment",
        "sync": "the hub URL, sync mode and trust roots stay local: a wrong remote value would cut the kiosk off from the hub that could correct it",
        "keypad": "keypads are paired to USB ports on site (`pingjia pair`)",
        "web": "the listen address needs a restart of pingjiad",
        "log": "the log level needs a restart of pingjiad",
    ]

    public var isEmpty: Bool { self == ConfigLayer() }

    // MARK: Reading

    /// A document from the hub: checked by the kiosk's own strict config parser (every key, type
    /// and range, as for `pingjia.toml`), and holding only remotely settable sections.
    public static func parseRemote(text: String, file: String) throws(TOMLProblems) -> ConfigLayer {
        var problems: [TOMLProblem] = []
        var config: KioskConfig?
        do { config = try KioskConfig.parse(text: text, file: file) } catch { problems = error.problems }
        let document: TOMLDocument
        do { document = try TOMLDocument(text: text, file: file) } catch { throw error }
        for key in document.root.keys where !remoteSections.contains(key) {
            let reason = localOnlySections[key].map { "[\(key)] cannot be set remotely: \($0)" }
                ?? "'\(key)' cannot be set remotely (remote sections: \(remoteSections.map { "[\($0)]" }.joined(separator: ", ")))"
            if !problems.contains(where: { $0.line == document.line(of: [key]) && $0.message.contains("unknown key '\(key)'") }) {
                problems.append(TOMLProblem(file: file, line: document.line(of: [key]), message: reason))
            }
        }
        guard problems.isEmpty, let config else { throw TOMLProblems(problems) }
        return layer(of: document, parsed: config)
    }

    /// The remotely settable keys a (valid) local file writes: the overrides it holds.
    public static func written(in text: String, file: String) throws(TOMLProblems) -> ConfigLayer {
        let config = try KioskConfig.parse(text: text, file: file)
        return layer(of: try TOMLDocument(text: text, file: file), parsed: config)
    }

    /// Which keys `document` writes, with the values the parser made of them.
    private static func layer(of document: TOMLDocument, parsed config: KioskConfig) -> ConfigLayer {
        var layer = ConfigLayer()
        let root = document.root
        if root.table("rating")?.has("scale") == true { layer.scale = config.scale }
        if let qr = root.table("qr") {
            if qr.has("url_template") { layer.qrURLTemplate = config.qrURLTemplate }
            if qr.has("error_correction") { layer.qrErrorCorrection = config.qrErrorCorrection }
            if qr.has("token_minutes") { layer.qrTokenMinutes = config.qrTokenMinutes }
        }
        if let session = root.table("session") {
            if session.has("mode") { layer.session.mode = config.sessions.mode }
            if session.has("timeout_ms") { layer.session.timeoutMs = config.sessions.timeoutMs }
            if session.has("min_interval_ms") { layer.session.minIntervalMs = config.sessions.minIntervalMs }
        }
        // The parser keeps exactly the keys each [[window]] wrote.
        layer.windows = config.sessions.windows
        return layer
    }

    // MARK: Combining

    /// This layer with `top` over it: each key from `top` where it sets it.
    public func overlaid(by top: ConfigLayer) -> ConfigLayer {
        var out = self
        out.scale = top.scale ?? scale
        out.qrURLTemplate = top.qrURLTemplate ?? qrURLTemplate
        out.qrErrorCorrection = top.qrErrorCorrection ?? qrErrorCorrection
        out.qrTokenMinutes = top.qrTokenMinutes ?? qrTokenMinutes
        out.session = session.overlaid(by: top.session)
        for (id, settings) in top.windows {
            out.windows[id] = (windows[id] ?? WindowSettings()).overlaid(by: settings)
        }
        return out
    }

    /// Writes the keys this layer sets into `config`.
    public func apply(to config: inout KioskConfig) {
        if let scale { config.scale = scale }
        if let qrURLTemplate { config.qrURLTemplate = qrURLTemplate }
        if let qrErrorCorrection { config.qrErrorCorrection = qrErrorCorrection }
        if let qrTokenMinutes { config.qrTokenMinutes = qrTokenMinutes }
        if let mode = session.mode { config.sessions.mode = mode }
        if let timeout = session.timeoutMs { config.sessions.timeoutMs = timeout }
        if let interval = session.minIntervalMs { config.sessions.minIntervalMs = interval }
        for (id, settings) in windows {
            config.sessions.windows[id] = (config.sessions.windows[id] ?? WindowSettings()).overlaid(by: settings)
        }
    }

    /// The keys set, as `section.key` (`window.4.mode` for a window), sorted.
    public var keyPaths: [String] {
        var paths: [String] = []
        if scale != nil { paths.append("rating.scale") }
        if qrURLTemplate != nil { paths.append("qr.url_template") }
        if qrErrorCorrection != nil { paths.append("qr.error_correction") }
        if qrTokenMinutes != nil { paths.append("qr.token_minutes") }
        paths += session.keyPaths(prefix: "session")
        for (id, settings) in windows { paths += settings.keyPaths(prefix: "window.\(id)") }
        return paths.sorted()
    }

    /// The keys both layers set: where the local file overrides the hub.
    public func overriddenKeys(by local: ConfigLayer) -> [String] {
        let mine = Set(keyPaths)
        return local.keyPaths.filter { mine.contains($0) }
    }

    // MARK: Writing

    /// The layer as a `pingjia.toml` fragment that `parseRemote` reads back to the same layer.
    public func toml() -> String {
        var out: [String] = []
        if let scale { out += ["[rating]", "scale = \(ConfigFileEditor.quoted(scale))", ""] }
        if qrURLTemplate != nil || qrErrorCorrection != nil || qrTokenMinutes != nil {
            out.append("[qr]")
            if let qrURLTemplate { out.append("url_template = \(ConfigFileEditor.quoted(qrURLTemplate.template))") }
            if let qrErrorCorrection { out.append("error_correction = \"\(qrErrorCorrection.rawValue)\"") }
            if let qrTokenMinutes { out.append("token_minutes = \(qrTokenMinutes)") }
            out.append("")
        }
        if session != WindowSettings() { out += ["[session]"] + session.tomlLines() + [""] }
        for id in windows.keys.sorted() {
            out += ["[[window]]", "id = \(ConfigFileEditor.quoted(id))"] + windows[id]!.tomlLines() + [""]
        }
        return out.joined(separator: "\n")
    }
}

extension WindowSettings {
    func overlaid(by top: WindowSettings) -> WindowSettings {
        WindowSettings(mode: top.mode ?? mode, timeoutMs: top.timeoutMs ?? timeoutMs, minIntervalMs: top.minIntervalMs ?? minIntervalMs)
    }

    func keyPaths(prefix: String) -> [String] {
        var paths: [String] = []
        if mode != nil { paths.append("\(prefix).mode") }
        if timeoutMs != nil { paths.append("\(prefix).timeout_ms") }
        if minIntervalMs != nil { paths.append("\(prefix).min_interval_ms") }
        return paths
    }

    func tomlLines() -> [String] {
        var lines: [String] = []
        if let mode { lines.append("mode = \"\(mode.rawValue)\"") }
        if let timeoutMs { lines.append("timeout_ms = \(timeoutMs)") }
        if let minIntervalMs { lines.append("min_interval_ms = \(minIntervalMs)") }
        return lines
    }
}

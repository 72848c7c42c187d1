import Foundation
import PingjiaCore
import PingjiaQR
import PingjiaTOML

/// The kiosk's settings file (`pingjia.toml`). Every key is optional; a missing file means all
/// defaults. An unknown key or a wrong value rejects the file with `file:line`, because a daemon
/// that half-applies a config is worse than one that refuses to start with a clear message.
public struct KioskConfig: Sendable, Equatable {
    public var deviceName: String?
    public var hall: String?
    public var scale = "five"
    public var qrURLTemplate = URLTemplate.default
    public var qrErrorCorrection = QRErrorCorrection.medium
    public var logLevel = "info"

    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    public init() {}

    public static func parse(text: String, file: String) throws(TOMLProblems) -> KioskConfig {
        try parse(TOMLDocument(text: text, file: file))
    }

    private static func parse(_ document: TOMLDocument) throws(TOMLProblems) -> KioskConfig {
        var config = KioskConfig()
        let root = document.root
        if let device = root.table("device") {
            config.deviceName = device.string("name")
            config.hall = device.string("hall")
        }
        if let rating = root.table("rating") {
            if let scale = rating.string("scale") {
                if Identifier.isSlug(scale) { config.scale = scale } else {
                    rating.problem("scale", "scale '\(scale)' is not a scale name (lowercase letters, digits, '-'), e.g. five or three")
                }
            }
        }
        if let qr = root.table("qr") {
            if let template = qr.string("url_template") {
                do { config.qrURLTemplate = try URLTemplate(template) } catch { qr.problem("url_template", error.description) }
            }
            if let level = qr.string("error_correction") {
                if let parsed = QRErrorCorrection(rawValue: level.uppercased()) { config.qrErrorCorrection = parsed } else {
                    qr.problem("error_correction", "error_correction '\(level)' must be one of L, M, Q, H")
                }
            }
        }
        if let log = root.table("log"), let level = log.string("level") {
            if logLevels.contains(level) { config.logLevel = level } else {
                log.problem("level", "log level '\(level)' must be one of \(logLevels.joined(separator: ", "))")
            }
        }
        try document.finish()
        return config
    }

    /// Reads the config of `location`. A missing default file means defaults; a missing file the
    /// user named explicitly is an error, since they clearly meant some other settings.
    public static func load(_ location: StateLocation) throws(TOMLProblems) -> KioskConfig {
        if !FileManager.default.fileExists(atPath: location.configFile) {
            if location.configIsExplicit {
                throw TOMLProblems([TOMLProblem(file: location.configFile, line: nil,
                                                message: "config file not found: check --config / PINGJIA_CONFIG, or run `pingjia init`")])
            }
            return KioskConfig()
        }
        return try parse(TOMLDocument(contentsOf: location.configFile))
    }

    /// The commented file `pingjia init` writes: every setting, at its default, explained.
    public static let initialText = """
    # Pingjia kiosk configuration. Every key is optional: the values shown are the defaults.
    # Problems in this file are reported as file:line when pingjiad or pingjia starts.

    [device]
    # name = "3号窗口评价器"          # shown in the hub's device list
    # hall = "某某市政务服务中心"

    [rating]
    # The rating scale of this hall: a file in the shipped scales/ folder or in <state-dir>/scales/.
    # "five": 非常满意 满意 基本满意 不满意 非常不满意 (GB/T 39046); "three": 满意 一般 不满意.
    scale = "five"

    [qr]
    # The link behind each staff member's QR code. Placeholders: {deviceId} {staffId} {windowId}.
    url_template = "https://pingjia.invalid/r/{deviceId}/{staffId}"
    # QR error correction: L, M, Q or H. M survives a smudged or partly covered sticker.
    error_correction = "M"

    [log]
    # trace, debug, info, notice, warning, error or critical
    level = "info"

    """
}

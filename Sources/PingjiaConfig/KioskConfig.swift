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
    /// How long the QR code of an armed session (a signed per-transaction token) stays valid.
    public var qrTokenMinutes = 10
    public var logLevel = "info"
    public var sync = SyncConfig()
    /// Which staff member each rating device rates (`[[keypad]]`), until pairing at the window
    /// is built; a device with no entry still rates, flagged `unarmed`.
    public var keypads: [KeypadPairing] = []
    /// `[session]` and `[[window]]`: when a press counts (一次一评), timeouts, burst detection.
    public var sessions = SessionSettings()
    /// `[web]`: where the display page and the local API listen.
    public var web = WebSettings()

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
            if let minutes = qr.int("token_minutes") {
                if (1...1440).contains(minutes) { config.qrTokenMinutes = minutes } else {
                    qr.problem("token_minutes", "token_minutes \(minutes) must be 1-1440 (minutes a transaction's QR code may be used)")
                }
            }
        }
        if let table = root.table("sync") {
            SyncConfig.parse(table, into: &config.sync)
        }
        if let log = root.table("log"), let level = log.string("level") {
            if logLevels.contains(level) { config.logLevel = level } else {
                log.problem("level", "log level '\(level)' must be one of \(logLevels.joined(separator: ", "))")
            }
        }
        for keypad in root.tables("keypad") ?? [] {
            let port = keypad.string("port")
            let serial = keypad.string("serial")
            let staff = keypad.string("staff")
            let window = keypad.string("window")
            if port == nil && serial == nil {
                keypad.problem(nil, "a [[keypad]] needs port = \"1-1.2\" or serial = \"…\" (see `pingjia devices list`, or pair it with `pingjia pair`)")
            }
            if staff == nil && window == nil {
                keypad.problem(nil, "a [[keypad]] needs window = \"3\" (as `pingjia pair` writes) or staff = \"工号\"")
            }
            if staff != nil || window != nil, port != nil || serial != nil {
                config.keypads.append(KeypadPairing(port: port, serial: serial, staffId: staff, windowId: window))
            }
        }
        if let session = root.table("session") {
            let parsed = parseWindowSettings(session)
            if let mode = parsed.mode { config.sessions.mode = mode }
            if let timeout = parsed.timeoutMs { config.sessions.timeoutMs = timeout }
            if let interval = parsed.minIntervalMs { config.sessions.minIntervalMs = interval }
        }
        for window in root.tables("window") ?? [] {
            let settings = parseWindowSettings(window)
            guard let id = window.string("id", required: true) else { continue }
            if config.sessions.windows[id] != nil {
                window.problem("id", "window '\(id)' has two [[window]] tables: merge them into one")
            }
            config.sessions.windows[id] = settings
        }
        if let web = root.table("web"), let listen = web.string("listen") {
            // host:port, as [sync] listen.
            let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) {
                config.web.listen = String(parts[0])
                config.web.port = port
            } else {
                web.problem("listen", "listen '\(listen)' must be host:port, e.g. 127.0.0.1:8080 (0.0.0.0:8080 opens the local API to the hall's network)")
            }
        }
        try document.finish()
        return config
    }

    /// The keys `[session]` and each `[[window]]` share; times in milliseconds.
    private static func parseWindowSettings(_ table: TOMLReader) -> WindowSettings {
        var settings = WindowSettings()
        if let mode = table.string("mode") {
            if let parsed = WindowMode(rawValue: mode) { settings.mode = parsed } else {
                table.problem("mode", "mode '\(mode)' must be \"armed\" (a press counts in a session armed by the API or the 请评价 key) or \"open\" (every press counts)")
            }
        }
        if let timeout = table.int("timeout_ms") {
            if (1_000...600_000).contains(timeout) { settings.timeoutMs = timeout } else {
                table.problem("timeout_ms", "timeout_ms \(timeout) must be between 1000 (1 s) and 600000 (10 min)")
            }
        }
        if let interval = table.int("min_interval_ms") {
            if (0...5_000).contains(interval) { settings.minIntervalMs = interval } else {
                table.problem("min_interval_ms", "min_interval_ms \(interval) must be between 0 (no burst check) and 5000")
            }
        }
        return settings
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
    # The keys of [rating], [qr], [session] and [[window]] left commented out here may be set by the
    # hub (`pingjia-hub config set`); a key written in this file wins over the hub's.

    [device]
    # name = "3号窗口评价器"          # shown in the hub's device list
    # hall = "某某市政务服务中心"

    [rating]
    # The rating scale of this hall: a file in the shipped scales/ folder or in <state-dir>/scales/.
    # "five": 非常满意 满意 基本满意 不满意 非常不满意 (GB/T 39046); "three": 满意 一般 不满意.
    # scale = "five"

    [qr]
    # The link behind each staff member's QR code. Placeholders: {deviceId} {staffId} {windowId}.
    # url_template = "https://pingjia.invalid/r/{deviceId}/{staffId}"
    # QR error correction: L, M, Q or H. M survives a smudged or partly covered sticker.
    # error_correction = "M"
    # While a session is armed, the window display shows a QR code with a token signed by this
    # device (one rating per transaction on the hub's phone page); minutes it stays valid.
    # token_minutes = 10

    [sync]
    # The hub this kiosk delivers its ratings to. `pingjia enroll --hub URL --code CODE` records
    # the URL it enrolled with; set it here only to override that (e.g. a new address of the hub).
    # hub_url = "https://hub.example.gov.cn:8780"
    # "push": the kiosk sends its ratings to the hub. "pull": the hub fetches them from this
    # kiosk at `listen` (for halls the hub can reach but that cannot reach the hub).
    mode = "push"
    # Where the kiosk serves /healthz and, in pull mode, its outbox to the hub (off when unset).
    # listen = "0.0.0.0:8781"
    # The largest batch: ratings per request, and bytes per request (the hub accepts up to 4 MiB).
    batch_records = 500
    batch_bytes = 1048576
    # HTTPS: PEM file of the certificates to trust instead of the system's CAs: the hall's CA,
    # or the hub's own certificate to pin it.
    # ca_bundle = "/etc/pingjia/hub-ca.pem"
    # Acknowledged ratings older than this many days are removed from the kiosk (0 = keep all).
    retention_days = 90
    # A heartbeat (health, outbox, keypads, staff) goes to the hub this often and on every change;
    # 10-3600 seconds, 0 = none. Only in push mode; skipped while the hub cannot be reached.
    heartbeat_seconds = 60

    [log]
    # trace, debug, info, notice, warning, error or critical
    level = "info"

    # Rating devices and where they rate: one [[keypad]] per keypad or touch terminal, found by the
    # USB port it is plugged into (`pingjia devices list`) and its serial number. `pingjia pair`
    # writes these: press a key on the keypad at a window and it is bound to that window. Presses
    # on a device with no entry are still recorded, flagged unarmed.
    # [[keypad]]
    # port = "1-1.2"
    # serial = "PJ5-000123"
    # window = "3"                   # rates whoever serves at window 3
    # staff = "A1023"                # or always this 工号 (window: theirs in the roster)

    [session]
    # "armed": a press counts (一次一评) only in a session armed by the local API
    # (POST /api/v1/windows/{w}/session) or the keypad's 请评价 key; other presses are kept, flagged
    # unarmed or repeat. "open": every press counts (self-service kiosks).
    # mode = "armed"
    # An armed session nobody rated closes after this many milliseconds (未评价).
    # timeout_ms = 10000
    # Presses at one window closer together than this are faster than a person: suspect-burst.
    # min_interval_ms = 300

    # Windows whose rules differ from [session]: the same three keys, and the window's id.
    # [[window]]
    # id = "W03"
    # mode = "open"

    [web]
    # host:port of the window display (/display/{window}), the local API and /healthz. Loopback
    # by default: the local API changes who is serving at a window.
    listen = "127.0.0.1:8080"

    """
}

/// The `[sync]` section: where and how ratings go to the hub.
public struct SyncConfig: Sendable, Equatable {
    public enum Mode: String, Sendable, Equatable { case push, pull }

    public var hubURL: String?
    public var mode = Mode.push
    public var batchRecords = 500
    public var batchBytes = 1_048_576
    public var caBundle: String?
    public var retentionDays = 90
    /// Seconds between heartbeats to the hub (push mode); 0 turns them off.
    public var heartbeatSeconds = 60
    /// Where the kiosk serves `/healthz` and, in pull mode, its outbox to the hub ("host:port").
    public var listenHost: String?
    public var listenPort: Int?

    public init() {}

    static func parse(_ table: TOMLReader, into config: inout SyncConfig) {
        if let url = table.string("hub_url") {
            if let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil, parsed.query == nil {
                config.hubURL = url.hasSuffix("/") ? String(url.dropLast()) : url
            } else {
                table.problem("hub_url", "hub_url '\(url)' must be an http:// or https:// URL with a host, e.g. https://hub.example.gov.cn:8780")
            }
        }
        if let mode = table.string("mode") {
            if let parsed = Mode(rawValue: mode) { config.mode = parsed } else {
                table.problem("mode", "mode '\(mode)' must be \"push\" (the kiosk sends) or \"pull\" (the hub fetches)")
            }
        }
        if let listen = table.string("listen") {
            let parts = listen.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) {
                config.listenHost = String(parts[0])
                config.listenPort = port
            } else {
                table.problem("listen", "listen '\(listen)' must be host:port, e.g. 0.0.0.0:8781")
            }
        }
        if config.mode == .pull && config.listenPort == nil {
            table.problem("mode", "mode \"pull\" needs listen = \"host:port\" where the hub can reach this kiosk, e.g. 0.0.0.0:8781")
        }
        if let count = table.int("batch_records") {
            if (1...5000).contains(count) { config.batchRecords = count } else {
                table.problem("batch_records", "batch_records \(count) must be 1-5000")
            }
        }
        if let bytes = table.int("batch_bytes") {
            if (16_384...4_000_000).contains(bytes) { config.batchBytes = bytes } else {
                table.problem("batch_bytes", "batch_bytes \(bytes) must be 16384-4000000 (the hub refuses bodies over 4 MiB)")
            }
        }
        if let bundle = table.string("ca_bundle") {
            if bundle.hasPrefix("/") { config.caBundle = bundle } else {
                table.problem("ca_bundle", "ca_bundle '\(bundle)' must be an absolute path to a PEM file")
            }
        }
        if let seconds = table.int("heartbeat_seconds") {
            if seconds == 0 || (10...3600).contains(seconds) { config.heartbeatSeconds = seconds } else {
                table.problem("heartbeat_seconds", "heartbeat_seconds \(seconds) must be 10-3600 (or 0 to send none)")
            }
        }
        if let days = table.int("retention_days") {
            if (0...3650).contains(days) { config.retentionDays = days } else {
                table.problem("retention_days", "retention_days \(days) must be 0 (keep all) to 3650")
            }
        }
    }
}

/// One `[[keypad]]` of the config: the device at `port` (or with `serial`) rates at `windowId`,
/// or rates `staffId`.
public struct KeypadPairing: Sendable, Equatable {
    public var port: String?
    public var serial: String?
    public var staffId: String?
    public var windowId: String?

    public init(port: String?, serial: String?, staffId: String?, windowId: String?) {
        self.port = port
        self.serial = serial
        self.staffId = staffId
        self.windowId = windowId
    }

    /// The pairing for a device: port and serial both matching first (cheap keypads may share
    /// one serial number), then the serial alone (a unit moved to another port keeps its
    /// window), then the port alone for entries without a serial.
    public static func find(in pairings: [KeypadPairing], port: String, serial: String?) -> KeypadPairing? {
        if let serial {
            if let exact = pairings.first(where: { $0.serial == serial && $0.port == port }) { return exact }
            if let bySerial = pairings.first(where: { $0.serial == serial }) { return bySerial }
        }
        return pairings.first { $0.serial == nil && $0.port == port }
    }
}

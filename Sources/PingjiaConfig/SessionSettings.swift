import Foundation

/// Whether a window rates only armed transactions or takes every press.
public enum WindowMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Always open: every press counts (a self-service kiosk, a hall entrance).
    case open
    /// A press counts only in a session armed by the local API or the keypad's 请评价 key.
    case armed
}

/// `[session]` and `[[window]]`: the rating-session rules, with per-window overrides.
public struct SessionSettings: Sendable, Equatable {
    public var mode = WindowMode.armed
    /// An armed session nobody rated closes after this long (未评价).
    public var timeoutMs = 10_000
    /// Two presses at one window closer than this are faster than a person: `suspect-burst`.
    public var minIntervalMs = 300
    public var windows: [String: WindowSettings] = [:]

    public init() {}

    public func mode(_ windowId: String) -> WindowMode { windows[windowId]?.mode ?? mode }
    public func timeoutNs(_ windowId: String) -> UInt64 { UInt64(windows[windowId]?.timeoutMs ?? timeoutMs) * 1_000_000 }
    public func minIntervalNs(_ windowId: String) -> UInt64 { UInt64(windows[windowId]?.minIntervalMs ?? minIntervalMs) * 1_000_000 }
}

/// One `[[window]]`: settings of one window that differ from `[session]`.
public struct WindowSettings: Sendable, Equatable {
    public var mode: WindowMode?
    public var timeoutMs: Int?
    public var minIntervalMs: Int?

    public init(mode: WindowMode? = nil, timeoutMs: Int? = nil, minIntervalMs: Int? = nil) {
        self.mode = mode
        self.timeoutMs = timeoutMs
        self.minIntervalMs = minIntervalMs
    }
}

/// `[web] listen = "host:port"`: the local web (display page, local API, /healthz).
public struct WebSettings: Sendable, Equatable {
    /// Loopback by default: the local API changes who is serving, so it is not for the hall's LAN.
    public var listen = "127.0.0.1"
    public var port = 8080

    public init() {}
}

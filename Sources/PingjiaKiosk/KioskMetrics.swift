import CoreMetrics
import PingjiaCore

/// What the kiosk counts for monitoring. A seam so the store path does not know the exporter:
/// pingjiad passes swift-metrics handles made by its Prometheus registry, `pingjia` counts nothing.
public protocol KioskMetrics: Sendable {
    /// One rating on disk, with how long the commit (append + fsync) took.
    func committed(level: Int, channel: RatingChannel, flags: Set<RatingFlag>, duration: Duration)
    /// A USB problem: a report that could not be decoded, feedback not sent, a press not stored.
    func usbError(_ kind: String)
    /// A 未评价 record on disk: a session that timed out with no rating.
    func unrated(windowId: String)
}

/// Counts nothing: the CLI and tests that do not look at metrics.
public struct NoKioskMetrics: KioskMetrics {
    public init() {}
    public func committed(level: Int, channel: RatingChannel, flags: Set<RatingFlag>, duration: Duration) {}
    public func usbError(_ kind: String) {}
    public func unrated(windowId: String) {}
}

/// The swift-metrics implementation, with an explicit factory rather than the process-wide
/// `MetricsSystem`, so tests in one process each get their own registry.
public struct SwiftMetricsKioskMetrics: KioskMetrics {
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) { self.factory = factory }

    public func committed(level: Int, channel: RatingChannel, flags: Set<RatingFlag>, duration: Duration) {
        Counter(label: "pingjia_ratings_total", dimensions: [("level", "\(level)"), ("channel", channel.rawValue)],
                factory: factory).increment()
        for flag in flags {
            Counter(label: "pingjia_presses_flagged_total", dimensions: [("flag", flag.rawValue)], factory: factory).increment()
        }
        let (seconds, attoseconds) = duration.components
        Timer(label: "pingjia_commit_duration_seconds", factory: factory)
            .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    public func usbError(_ kind: String) {
        Counter(label: "pingjia_usb_errors_total", dimensions: [("kind", kind)], factory: factory).increment()
    }

    public func unrated(windowId: String) {
        Counter(label: "pingjia_unrated_total", dimensions: [("window", windowId)], factory: factory).increment()
    }
}

import Foundation
import Hummingbird
import PingjiaKiosk
import Prometheus

/// The kiosk's metrics registry and its `/metrics` page (Prometheus text format). The counters
/// are fed through swift-metrics (`kioskMetrics`, handed to `KioskContext` and the USB layer);
/// the outbox depth is read from the store at each scrape, so it is never stale.
public final class MetricsExport: Sendable {
    let registry = PrometheusCollectorRegistry()
    public let kioskMetrics: any KioskMetrics
    private let outboxDepth: Gauge

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Commit = append + fsync: milliseconds normally, up to seconds on a failing SD card.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        kioskMetrics = SwiftMetricsKioskMetrics(factory: factory)
        outboxDepth = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "pingjia", metricName: "outbox", unitName: "depth",
            helpText: "Ratings stored but not yet acknowledged by the hub"))
    }

    /// The text page; the outbox depth is -1 when the store does not answer (and /healthz says why).
    func render(pending: UInt64?) -> String {
        outboxDepth.set(pending.map { Double($0) } ?? -1)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(4096)
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}

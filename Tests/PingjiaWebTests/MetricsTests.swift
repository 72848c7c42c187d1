import Foundation
import PingjiaCore
import Testing

/// /metrics over real HTTP on loopback, fed by real commits to a real SQLite store.
@Suite struct MetricsTests {
    /// The sample lines of `name` (not its # HELP / # TYPE comments).
    func samples(_ page: String, _ name: String) -> [Substring] {
        page.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
    }

    @Test func metricsAreOffWithoutARegistry() async throws {
        let web = try WebKiosk()
        try await web.withServer(metrics: false) { client in
            let response = try await client.get("/metrics")
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType]?.hasPrefix("application/problem+json") == true)
        }
    }

    @Test func ratingsFlagsCommitLatencyUSBErrorsAndOutboxDepth() async throws {
        let web = try WebKiosk()
        _ = try web.kiosk.rate(staffId: "A1023", level: 1, channel: .keypad)
        _ = try web.kiosk.rate(staffId: "A1023", level: 1, channel: .keypad, flags: [.repeat])
        _ = try web.kiosk.rate(staffId: "A1024", level: 4, channel: .qr, flags: [.repeat, .suspectBurst])
        web.kiosk.metrics.usbError("report")
        try await web.withServer { client in
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let page = response.text
            let ratings = samples(page, "pingjia_ratings_total")
            #expect(ratings.contains { $0.contains(#"level="1""#) && $0.contains(#"channel="keypad""#) && $0.hasSuffix(" 2") }, "\(page)")
            #expect(ratings.contains { $0.contains(#"level="4""#) && $0.contains(#"channel="qr""#) && $0.hasSuffix(" 1") }, "\(page)")
            #expect(samples(page, "pingjia_presses_flagged_total").sorted()
                    == [#"pingjia_presses_flagged_total{flag="repeat"} 2"#, #"pingjia_presses_flagged_total{flag="suspect-burst"} 1"#], "\(page)")
            #expect(samples(page, "pingjia_commit_duration_seconds_count") == ["pingjia_commit_duration_seconds_count 3"], "\(page)")
            #expect(page.contains(#"pingjia_commit_duration_seconds_bucket{le="+Inf"} 3"#), "\(page)")
            #expect(samples(page, "pingjia_usb_errors_total") == [#"pingjia_usb_errors_total{kind="report"} 1"#], "\(page)")
            // Nothing is enrolled, so all three wait for the hub.
            #expect(samples(page, "pingjia_outbox_depth") == ["pingjia_outbox_depth 3.0"], "\(page)")
        }
    }
}

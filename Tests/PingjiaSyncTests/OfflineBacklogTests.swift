import Foundation
import PingjiaHub
import PingjiaSync
import Testing

/// Days offline: 100,000 ratings wait in the outbox, then the hub comes up. All must arrive,
/// exactly once. The time and rate are reported, not asserted: speed belongs in benchmarks.
@Suite struct OfflineBacklogTests {
    @Test(arguments: Backend.all)
    func aHundredThousandBufferedRatingsAllArriveWhenTheHubComesUp(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let count = 100_000
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            await hub.stop()

            try device.bulkFill(count)
            // The device tries while the hub is down: nothing is acknowledged, nothing is lost.
            let offline = await drain(try device.pusher(baseURL: hub.url, batchRecords: 500), within: .milliseconds(300))
            guard case .retry = offline else { Issue.record("expected retries while the hub is down, got \(offline)"); return }
            #expect(try device.store.syncState().ackedThroughSeq == 0)

            try await hub.start()
            let started = ContinuousClock.now
            let result = await drain(try device.pusher(baseURL: hub.url, batchRecords: 500, timeout: .seconds(30)), within: .seconds(900))
            let elapsed = ContinuousClock.now - started
            #expect(result == .idle)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("offline backlog (\(backend) hub): \(count) ratings delivered in \(String(format: "%.1f", seconds)) s "
                  + "(\(Int(Double(count) / seconds)) ratings/s, batches of 500, debug build, loopback)")
            try await expectExactlyOnce(device, hub)
            await hub.stop()
        }
    }
}

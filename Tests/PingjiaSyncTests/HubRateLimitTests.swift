import Foundation
import PingjiaCore
@testable import PingjiaHub
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// The hub's limits on device requests: per client address for what it refuses before a request
/// is authenticated, per device only after. Junk that names a device must not spend that device's
/// allowance, and random ids must leave nothing behind.
@Suite struct HubRateLimitTests {
    /// The shipped limits, not the harness's practically unlimited ones.
    static func shippedLimits(_ settings: inout HubSettings) {
        let shipped = HubSettings()
        settings.requestsPerSecond = shipped.requestsPerSecond
        settings.burst = shipped.burst
        settings.refusalBurst = shipped.refusalBurst
        // Practically no refill, so the count does not depend on how fast the machine sends.
        settings.refusalsPerSecond = 0.001
    }

    @Test func junkNamingADeviceDoesNotDelayThatDevicesBatches() async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir)
            try await hub.start(settings: Self.shippedLimits)
            let device = try await enrolledDevice(dir, with: hub)
            defer { device.close() }
            try await device.rate(40)

            // 200 junk batches for the real device id from another address: forged, or not even JSON.
            let forged = Batch(records: try device.store.records(after: 0, limit: 5), deviceId: device.deviceId,
                               sentAt: DeviceTime.format(Date()), key: SigningKey())
            let bodies = [Array(try JSONEncoder().encode(forged)), Array("{junk".utf8)]
            let (port, deviceId) = (hub.port, device.deviceId)
            let statuses = try await runBlocking {
                try (0..<200).map { index in
                    try LoopbackSocket.request(port: port, from: "127.0.0.2", "POST", "/v1/devices/\(deviceId)/batches",
                                               headers: [("Idempotency-Key", forged.idempotencyKey)], body: bodies[index % 2])
                }
            }
            #expect(Set(statuses).isSubset(of: [400, 401, 429]), "\(statuses)")
            let burst = Int(HubSettings().refusalBurst)
            #expect(statuses.prefix(burst).allSatisfy { $0 != 429 })
            #expect(statuses.dropFirst(burst).allSatisfy { $0 == 429 }, "the junk's address was not slowed down: \(statuses)")

            // The device itself, from its own address: every batch accepted at the first attempt.
            let pusher = try device.pusher(baseURL: hub.url, batchRecords: 5)
            for _ in 0..<8 {
                let step = await pusher.step()
                guard case .advanced = step else { Issue.record("a batch of the real device was not accepted: \(step)"); break }
            }
            #expect(await pusher.step() == .idle)
            await pusher.transport.shutdown()
            #expect(try device.store.syncState().lastError == nil)
            try await expectExactlyOnce(device, hub)
            await hub.stop()
        }
    }

    @Test func anAuthenticatedDeviceOverItsLimitGets429() async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir)
            try await hub.start { settings in
                // Practically no refill, so the outcome does not depend on how fast the machine is.
                settings.requestsPerSecond = 0.001
                settings.burst = 3
            }
            let device = try await enrolledDevice(dir, with: hub)
            defer { device.close() }
            try await device.rate(20)
            let pusher = try device.pusher(baseURL: hub.url, batchRecords: 5)
            for _ in 0..<3 {
                guard case .advanced = await pusher.step() else { Issue.record("expected a receipt"); break }
            }
            let refused = await pusher.step()
            await pusher.transport.shutdown()
            guard case .retry(let reason, let after) = refused else { Issue.record("expected a retry, got \(refused)"); return }
            #expect(reason.contains("429 rate-limited"), "\(reason)")
            #expect(after == .seconds(1))
            #expect(try await hub.storage.chain(deviceId: device.deviceId).count == 15)
            await hub.stop()
        }
    }

    @Test func refusalsAreCountedPerClientAddressNotPerDeviceId() async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir)
            try await hub.start { settings in
                settings.refusalsPerSecond = 0.001
                settings.refusalBurst = 3
            }
            let port = hub.port
            let statuses = try await runBlocking {
                try (0..<6).map { index in
                    try LoopbackSocket.request(port: port, from: "127.0.0.3", "POST", "/v1/devices/pj-00000000000\(index)/batches",
                                               headers: [("Idempotency-Key", "k")])
                }
            }
            #expect(statuses == [404, 404, 404, 429, 429, 429])
            // Another address is not held back by them.
            let other = try await runBlocking {
                try LoopbackSocket.request(port: port, from: "127.0.0.4", "POST", "/v1/devices/pj-000000000001/batches",
                                           headers: [("Idempotency-Key", "k")])
            }
            #expect(other == 404)
            await hub.stop()
        }
    }

    @Test func bucketsStayBoundedUnderAHundredThousandRandomIdsAndIdleOnesAreDropped() {
        let limiter = RateLimiter(rate: 1, burst: 30, maxBuckets: 10_000)
        var now: TimeInterval = 1000
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100_000 {
            _ = limiter.allow("pj-" + String(generator.next(), radix: 16), now: now)
            now += 0.0001
        }
        #expect(limiter.count <= 10_000)
        // A minute later every bucket has refilled: idle, they are dropped as new keys arrive.
        now += 60
        #expect(limiter.allow("pj-after", now: now))
        #expect(limiter.count == 1)
        // A key that is still spending keeps its bucket.
        for _ in 0..<40 { _ = limiter.allow("busy", now: now) }
        #expect(!limiter.allow("busy", now: now))
        #expect(limiter.count == 2)
    }

    @Test func keysBeyondTheBoundShareOneBucket() {
        let limiter = RateLimiter(rate: 0.001, burst: 2, maxBuckets: 100)
        for index in 0..<100 { #expect(limiter.allow("key-\(index)", now: 0)) }
        // None has refilled, so none can be dropped: the newcomers are limited together.
        let allowed = (0..<10).filter { limiter.allow("new-\($0)", now: 0.5) }.count
        #expect(allowed == 2)
        #expect(limiter.count == 100)
    }
}

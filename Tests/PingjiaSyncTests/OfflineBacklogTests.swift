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

            try await device.bulkFill(count)
            // The device tries while the hub is down: nothing is acknowledged, nothing is lost.
            // The stopped hub's port is held (bound, not listening) meanwhile, so that no hub of a
            // test running beside this one can start on it and answer in its place.
            let held = holdPort(hub.port)
            let offline = await drain(try device.pusher(baseURL: hub.url, batchRecords: 500), within: .milliseconds(300))
            if held >= 0 { close(held) }
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

/// Binds `port` on loopback without listening (connections to it are refused); -1 if it is taken.
func holdPort(_ port: Int) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let bound = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    if !bound { close(fd); return -1 }
    return fd
}

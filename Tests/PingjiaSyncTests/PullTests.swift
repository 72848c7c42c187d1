import Foundation
import Hummingbird
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import ServiceLifecycle
import Testing

/// Pull mode: the kiosk serves its outbox, the hub fetches through the fault proxy, and ends up
/// with exactly the kiosk's records.
@Suite(.serialized) struct PullTests {
    /// The kiosk's sync endpoints, running on a loopback port.
    final class KioskServer: @unchecked Sendable {
        private(set) var port = 0
        private var group: ServiceGroup?
        private var task: Task<Void, any Error>?

        func start(_ device: TestDevice) async throws {
            let enrollment = try #require(device.enrollment)
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = buildPullApplication(store: device.store, key: try SigningKey.load(path: Enrollment.keyFile(device.location), create: false),
                                           hubKey: PublicKey(base64: enrollment.hubPublicKey)!, host: "127.0.0.1", port: 0,
                                           batchRecords: 25, batchBytes: 1 << 20, logger: quietLogger) { continuation.yield($0) }
            let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: quietLogger)
            self.group = group
            task = Task { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            port = await iterator.next() ?? 0
        }

        func stop() async {
            await group?.triggerGracefulShutdown()
            _ = await task?.result
        }
    }

    static func pullUntilDone(_ puller: Puller, _ device: TestDevice, _ url: String) async throws {
        for _ in 0..<200 {
            _ = try? await puller.pull(deviceId: device.deviceId, baseURL: url)
            let state = try device.store.syncState()
            if state.ackedThroughSeq == state.lastSeq { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test(arguments: Backend.all)
    func hubPullsEveryRecordExactlyOnceThroughFaults(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            try await device.rate(180)
            let kiosk = KioskServer()
            try await kiosk.start(device)
            let proxy = FaultProxy(upstreamPort: kiosk.port)
            try await proxy.start()
            proxy.inject([.dropBeforeForwarding, .dropAfterForwarding, .status(503), .truncateResponse, .duplicate, .pass,
                          .dropAfterForwarding, .truncateResponse, .status(500), .duplicate, .dropAfterForwarding])
            let url = "http://127.0.0.1:\(proxy.port)"
            try await hub.storage.setPullURL(deviceId: device.deviceId, url: url)
            let puller = Puller(hub: hub.hub, logger: quietLogger)

            try await Self.pullUntilDone(puller, device, url)
            #expect(proxy.pendingFaults == 0)
            await proxy.quiesce()
            try await expectExactlyOnce(device, hub)

            // New ratings later; pullAll() finds the device by its pull URL.
            try await device.rate(7)
            #expect(await puller.pullAll() == 7)
            try await expectExactlyOnce(device, hub)
            await puller.shutdown()
            await proxy.stop()
            await kiosk.stop()
            await hub.stop()
        }
    }

    @Test func theKioskAnswersOnlyTheEnrolledHub() async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir)
            defer { device.close() }
            try await device.rate(3)
            let kiosk = KioskServer()
            try await kiosk.start(device)
            let transport = try HTTPHubTransport(baseURL: "http://127.0.0.1:\(kiosk.port)")
            let target = "/v1/outbox?after=0&limit=10"
            func status(_ headers: [(String, String)]) async throws -> Int {
                try await transport.send(method: "GET", path: target, headers: headers, body: nil).status
            }
            #expect(try await status([]) == 401)
            #expect(try await status(PullAuth.headers(method: "GET", target: target, key: SigningKey())) == 401)
            #expect(try await status(PullAuth.headers(method: "GET", target: target, key: hub.key, now: Date().addingTimeInterval(-600))) == 401)
            // Signed for another target (a replayed signature on a different query).
            #expect(try await status(PullAuth.headers(method: "GET", target: "/v1/outbox?after=2&limit=10", key: hub.key)) == 401)
            #expect(try await status(PullAuth.headers(method: "GET", target: target, key: hub.key)) == 200)
            // An ack that is not the hub's receipt is refused and changes nothing.
            let forged = Receipt(deviceId: device.deviceId, throughSeq: 3, headHash: try device.store.records(after: 2)[0].hash,
                                 receivedAt: "x", key: SigningKey())
            let ack = try await transport.send(method: "POST", path: "/v1/outbox/ack",
                                               headers: PullAuth.headers(method: "POST", target: "/v1/outbox/ack", key: hub.key),
                                               body: Array(try JSONEncoder().encode(forged)))
            #expect(ack.status == 401)
            #expect(try device.store.syncState().ackedThroughSeq == 0)
            let health = try await transport.send(method: "GET", path: "/healthz", headers: [], body: nil)
            #expect(health.status == 200)
            await transport.shutdown()
            await kiosk.stop()
            await hub.stop()
        }
    }
}

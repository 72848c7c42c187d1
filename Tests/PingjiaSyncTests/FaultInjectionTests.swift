import Foundation
import PingjiaHub
import PingjiaStore
import PingjiaSync
import Testing

/// Device → fault-injecting proxy → hub, all real (HTTP over loopback, SQLite on both sides).
/// After every scenario the hub must hold exactly the device's records: none missing, none twice,
/// chain verified, everything acknowledged.
@Suite(.serialized) struct FaultInjectionTests {
    struct Scenario: Sendable, CustomStringConvertible {
        let description: String
        let faults: @Sendable (HubHarness, FaultProxy) -> [FaultProxy.Fault]
    }

    static let scenarios: [Scenario] = [
        Scenario(description: "connections dropped before forwarding") { _, _ in
            Array(repeating: .dropBeforeForwarding, count: 4)
        },
        Scenario(description: "connections dropped after forwarding (receipts lost)") { _, _ in
            [.dropAfterForwarding, .pass, .dropAfterForwarding, .dropAfterForwarding, .pass, .dropAfterForwarding]
        },
        Scenario(description: "500 and 503 answers") { _, _ in
            [.status(500), .status(503), .pass, .status(503), .status(500), .status(502)]
        },
        Scenario(description: "truncated responses") { _, _ in
            [.truncateResponse, .pass, .truncateResponse, .truncateResponse]
        },
        Scenario(description: "duplicated requests") { _, _ in
            [.duplicate, .duplicate, .pass, .duplicate]
        },
        Scenario(description: "a 10 s stall (device times out, the stalled request arrives late)") { _, _ in
            [.pass, .stall(.seconds(10))]
        },
        Scenario(description: "hub restarts after committing, before answering") { hub, proxy in
            let restart: @Sendable () async -> Void = {
                try? await hub.restart()
                proxy.upstreamPort = hub.port
            }
            return [.pass, .afterForwarding(restart), .pass, .pass, .afterForwarding(restart)]
        },
        Scenario(description: "everything at once") { hub, proxy in
            let restart: @Sendable () async -> Void = {
                try? await hub.restart()
                proxy.upstreamPort = hub.port
            }
            return [.dropBeforeForwarding, .dropAfterForwarding, .status(503), .duplicate, .truncateResponse,
                    .afterForwarding(restart), .status(500), .dropAfterForwarding, .duplicate, .stall(.seconds(10)),
                    .truncateResponse, .dropBeforeForwarding]
        },
    ]

    @Test(arguments: Backend.all, scenarios)
    func everyRecordArrivesExactlyOnce(_ backend: Backend, _ scenario: Scenario) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            try await device.rate(250)

            let proxy = FaultProxy(upstreamPort: hub.port)
            try await proxy.start()
            let faults = scenario.faults(hub, proxy)
            proxy.inject(faults)

            let result = await drain(try device.pusher(baseURL: "http://127.0.0.1:\(proxy.port)", batchRecords: 20))
            #expect(result == .idle, "the drain ended with \(result)")
            #expect(proxy.pendingFaults == 0, "not every fault was applied")
            // A stalled request still reaches the hub after the device moved on; let it land
            // before comparing, so a late duplicate would be caught.
            await proxy.quiesce()
            try await expectExactlyOnce(device, hub)

            // More ratings after the faults: the chain continues from where the hub is.
            try await device.rate(15)
            proxy.inject([.dropAfterForwarding, .duplicate])
            #expect(await drain(try device.pusher(baseURL: "http://127.0.0.1:\(proxy.port)", batchRecords: 7)) == .idle)
            await proxy.quiesce()
            try await expectExactlyOnce(device, hub)
            #expect(try await hub.storage.alarms().isEmpty)
            await proxy.stop()
            await hub.stop()
        }
    }

    /// The hub's database is restored from an older backup: the device's next batch starts past
    /// the hub's head, the hub answers 409 with the seq it expects, the device resends from there.
    /// (SQLite: the backup is a copy of the file. A PostgreSQL hub is restored with its own tools
    /// and meets the same 409 path, which the gap cases of the parametrised tests cover.)
    @Test func hubRestoredFromAnOlderBackupIsRefilledFromTheGap() async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir)
            defer { device.close() }
            try await device.rate(40)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            await hub.stop()
            let backup = dir + "/hub-backup.db"
            try FileManager.default.copyItem(atPath: hub.dbPath, toPath: backup)
            try await hub.start()

            try await device.rate(30)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            await hub.stop()
            try FileManager.default.removeItem(atPath: hub.dbPath)
            try FileManager.default.copyItem(atPath: backup, toPath: hub.dbPath)
            try await hub.start()
            #expect(try await hub.storage.chain(deviceId: device.deviceId).count == 40)

            try await device.rate(5)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            try await expectExactlyOnce(device, hub)
            await hub.stop()
        }
    }
}

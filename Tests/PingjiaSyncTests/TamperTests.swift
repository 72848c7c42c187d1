import Foundation
import GRDB
import PingjiaCore
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// Each attack or accident is refused or alarmed as designed (docs/sync-protocol.md), over real
/// HTTP to a real hub, and nothing already stored changes.
@Suite struct TamperTests {
    /// A hub and an enrolled device that has delivered `delivered` ratings.
    static func setUp(_ dir: String, delivered: Int, _ backend: Backend) async throws -> (HubHarness, TestDevice) {
        let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
        try await device.rate(delivered)
        #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
        return (hub, device)
    }

    static func post(_ batch: Batch, to hub: HubHarness, key: String? = nil) async throws -> (Int, Problem?, Receipt?) {
        let transport = try HTTPHubTransport(baseURL: hub.url)
        defer { Task { await transport.shutdown() } }
        let response = try await transport.send(method: "POST", path: "/v1/devices/\(batch.deviceId)/batches",
                                                headers: [("Idempotency-Key", key ?? batch.idempotencyKey)],
                                                body: Array(try JSONEncoder().encode(batch)))
        return (response.status, try? JSONDecoder().decode(Problem.self, from: Data(response.body)),
                try? JSONDecoder().decode(Receipt.self, from: Data(response.body)))
    }

    static func deviceKey(_ device: TestDevice) throws -> SigningKey {
        try SigningKey.load(path: Enrollment.keyFile(device.location), create: false)
    }

    @Test(arguments: Backend.all)
    func forgedBatchSignedWithAnotherKeyIsRefusedAndTheDeviceDeadLetters(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 5, backend)
            defer { device.close() }
            try await device.rate(3)
            let forged = Batch(records: try device.store.records(after: 5), deviceId: device.deviceId, sentAt: "t", key: SigningKey())
            let (status, problem, _) = try await Self.post(forged, to: hub)
            #expect(status == 401)
            #expect(problem?.type == Problem.Kind.badSignature)
            #expect(try await hub.storage.chain(deviceId: device.deviceId).count == 5)

            // A device whose key no longer matches stops, with the reason, instead of retrying.
            let result = await drain(try device.pusher(baseURL: hub.url, key: SigningKey()))
            guard case .deadLetter(let reason) = result else { Issue.record("expected dead letter, got \(result)"); return }
            #expect(reason.contains("401 bad-signature"))
            #expect(try device.store.syncState().deadLetterReason == reason)
            #expect(try device.store.outboxStatus().syncDeadLetter == reason)
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func replayedOldBatchChangesNothing(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 10, backend)
            defer { device.close() }
            let old = Batch(records: try device.store.records(after: 0, limit: 10), deviceId: device.deviceId,
                            sentAt: "2026-11-24T10:00:00.000+08:00", key: try Self.deviceKey(device))
            try await device.rate(10)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            let before = try await hub.storage.chain(deviceId: device.deviceId).map(\.hash)

            // Replayed under its own key and under a fresh one: the hub already holds these very
            // records, so it answers with a receipt for what it holds and stores nothing.
            for key in [old.idempotencyKey, "replay-\(UUID().uuidString)"] {
                let (status, _, receipt) = try await Self.post(old, to: hub, key: key)
                #expect(status == 200)
                #expect(receipt?.throughSeq ?? 0 >= 10)
            }
            #expect(try await hub.storage.chain(deviceId: device.deviceId).map(\.hash) == before)
            try await expectExactlyOnce(device, hub)
            #expect(try await hub.storage.alarms().isEmpty)
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func idempotencyKeyReusedForOtherRecordsIsRefused(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 4, backend)
            defer { device.close() }
            let key = try Self.deviceKey(device)
            let first = Batch(records: try device.store.records(after: 0, limit: 4), deviceId: device.deviceId, sentAt: "t", key: key)
            try await device.rate(2)
            let other = Batch(records: try device.store.records(after: 4), deviceId: device.deviceId, sentAt: "t", key: key)
            let (status, problem, _) = try await Self.post(other, to: hub, key: first.idempotencyKey)
            #expect(status == 422)
            #expect(problem?.type == Problem.Kind.idempotencyMismatch)
            #expect(try await hub.storage.chain(deviceId: device.deviceId).count == 4)
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func recordAlteredAfterSigningIsRefusedAndAlarmed(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 3, backend)
            defer { device.close() }
            try await device.rate(4)
            var batch = Batch(records: try device.store.records(after: 3), deviceId: device.deviceId, sentAt: "t",
                              key: try Self.deviceKey(device))
            batch.records[1].level = 1
            batch.records[1].code = 1
            let (status, problem, _) = try await Self.post(batch, to: hub)
            #expect(status == 422)
            #expect(problem?.type == Problem.Kind.chainBroken)
            #expect(problem?.detail.contains("seq 5") == true, "\(String(describing: problem))")
            #expect(try await hub.storage.chain(deviceId: device.deviceId).count == 3)
            #expect(try await hub.storage.alarms().map(\.kind) == [.chainBroken])
            // The same batch again (a retry) is refused again but raises no second alarm.
            #expect(try await Self.post(batch, to: hub).0 == 422)
            #expect(try await hub.storage.alarms().count == 1)
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func recordDeletedFromTheDeviceStoreStopsSyncAtTheHole(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 3, backend)
            defer { device.close() }
            try await device.rate(6)
            // Someone with the SQLite file removes seq 6, bypassing the store's guard.
            let queue = try DatabaseQueue(path: device.location.storeFile)
            try await queue.write { db in
                try db.execute(sql: "DROP TRIGGER rating_kept_until_acked")
                try db.execute(sql: "DELETE FROM rating WHERE seq = 6")
            }
            try queue.close()
            let result = await drain(try device.pusher(baseURL: hub.url, batchRecords: 50))
            guard case .deadLetter(let reason) = result else { Issue.record("expected dead letter, got \(result)"); return }
            // The kiosk finds the hole itself before sending: nothing of the broken segment leaves it.
            #expect(reason.contains("seq 6 is missing from the outbox"), "\(reason)")
            #expect(try await hub.storage.chain(deviceId: device.deviceId).count == 3, "the hub stored part of a broken batch")
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func rolledBackDeviceDatabaseThatRatesAgainIsRefusedAsAConflict(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 0, backend)
            try await device.rate(20)
            // A backup of the kiosk at seq 20, before the hub saw anything past seq 0.
            let backup = dir + "/kiosk-backup.db"
            device.close()
            try FileManager.default.copyItem(atPath: device.location.storeFile, toPath: backup)
            let live = try TestDevice(directory: dir)
            try await Self.adopt(live, enrollmentOf: device)
            try await live.rate(10)
            #expect(await drain(try live.pusher(baseURL: hub.url)) == .idle)
            live.close()

            // Restore the backup; new ratings then take seqs 21… that the hub already holds.
            try Self.replaceStore(of: device, with: backup)
            let restored = try TestDevice(directory: dir)
            defer { restored.close() }
            try await Self.adopt(restored, enrollmentOf: device)
            try await restored.rate(3, comment: "after the rollback")
            let result = await drain(try restored.pusher(baseURL: hub.url))
            guard case .deadLetter(let reason) = result else { Issue.record("expected dead letter, got \(result)"); return }
            #expect(reason.contains("seq-conflict"), "\(reason)")
            let alarms = try await hub.storage.alarms()
            #expect(alarms.map(\.kind) == [.seqConflict])
            #expect(alarms.first?.seq == 21)
            // The hub kept what it had: 30 records, chain intact.
            #expect(try await hub.storage.verifyChain(deviceId: device.deviceId) == .intact(count: 30, lastSeq: 30))
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func rolledBackDeviceDatabaseBehindTheHubDeadLetters(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 0, backend)
            try await device.rate(10)
            device.close()
            let backup = dir + "/kiosk-backup.db"
            try FileManager.default.copyItem(atPath: device.location.storeFile, toPath: backup)
            let live = try TestDevice(directory: dir)
            try await Self.adopt(live, enrollmentOf: device)
            try await live.rate(10)
            #expect(await drain(try live.pusher(baseURL: hub.url)) == .idle)
            live.close()

            try Self.replaceStore(of: device, with: backup)
            let restored = try TestDevice(directory: dir)
            defer { restored.close() }
            try await Self.adopt(restored, enrollmentOf: device)
            let result = await drain(try restored.pusher(baseURL: hub.url))
            guard case .deadLetter(let reason) = result else { Issue.record("expected dead letter, got \(result)"); return }
            #expect(reason.contains("rolled back"), "\(reason)")
            #expect(try restored.store.syncState().ackedThroughSeq == 0, "a receipt beyond the outbox must not be taken")
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func revokedDeviceGets403AndDeadLetters(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await Self.setUp(dir, delivered: 5, backend)
            defer { device.close() }
            _ = try await hub.storage.revoke(deviceId: device.deviceId, now: Date())
            try await device.rate(2)
            let result = await drain(try device.pusher(baseURL: hub.url))
            guard case .deadLetter(let reason) = result else { Issue.record("expected dead letter, got \(result)"); return }
            #expect(reason.contains("403 revoked"), "\(reason)")
            #expect(try await hub.storage.chain(deviceId: device.deviceId).count == 5)
            // No busy retry: a second drain stops at once without asking the hub.
            let again = await drain(try device.pusher(baseURL: "http://127.0.0.1:9"))
            #expect(again == .deadLetter(reason))
            await hub.stop()
        }
    }

    // MARK: - Helpers

    /// A TestDevice reopened on the same state directory uses the enrollment already on disk.
    static func adopt(_ device: TestDevice, enrollmentOf original: TestDevice) async throws {
        try device.adoptEnrollment()
        #expect(device.deviceId == original.deviceId)
    }

    static func replaceStore(of device: TestDevice, with backup: String) throws {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: device.location.storeFile + suffix) }
        try FileManager.default.copyItem(atPath: backup, toPath: device.location.storeFile)
    }
}

@Suite struct RetentionTests {
    @Test(arguments: Backend.all)
    func onlyAcknowledgedOldRecordsArePrunedAndTheChainStillVerifiesAndSyncs(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            try await device.rate(10)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            try await device.rate(5)
            let cutoff = Date().addingTimeInterval(60)   // every record is "older" than this
            // Only the 10 acknowledged records may go; the 5 unacknowledged ones stay.
            #expect(try device.store.pruneAcknowledged(ratedBefore: cutoff) == 10)
            #expect(try device.store.records(after: 0).map(\.seq) == Array(11...15))
            guard case .intact(count: 5, lastSeq: 15, _) = try device.store.verifyChain() else {
                Issue.record("the chain does not verify after pruning: \(try device.store.verifyChain())")
                return
            }
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            #expect(try await hub.storage.verifyChain(deviceId: device.deviceId) == .intact(count: 15, lastSeq: 15))
            #expect(try device.store.pruneAcknowledged(ratedBefore: Date().addingTimeInterval(-3600)) == 0, "recent records were pruned")
            await hub.stop()
        }
    }
}

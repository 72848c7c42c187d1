import Foundation
import PingjiaCore
import PingjiaHub
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// A province runs several hub instances on one PostgreSQL database behind a load balancer. Here:
/// two built `pingjia-hub serve` processes, and a proxy that sends every request of the device,
/// every retry included, to both at the same moment and answers with either's reply.
@Suite(.serialized) struct MultiInstanceTests {
    @Test(.enabled(if: !Backend.postgresSkipped, "PINGJIA_TEST_POSTGRES=0 skips the PostgreSQL leg"))
    func twoHubProcessesOnOneDatabaseStoreEveryRatingExactlyOnce() async throws {
        try await withTempDirectory { dir in
            let database = try Backend.postgres.newDatabase(in: dir)
            let keyPath = dir + "/hub.key"
            let key = try SigningKey.load(path: keyPath, create: true)
            // Both start at once on an empty schema: the migrations take turns under their lock.
            async let startingFirst = HubProcess(database: database, key: keyPath)
            async let startingSecond = HubProcess(database: database, key: keyPath)
            let (first, second) = try await (startingFirst, startingSecond)
            defer { first.stop(); second.stop() }

            let storage = try await PostgresHubStorage(url: database, logger: quietLogger)
            let hub = Hub(storage: storage, key: key, logger: quietLogger)
            let device = try TestDevice(directory: dir)
            defer { device.close() }
            try await device.enroll(hubURL: first.url, code: try await hub.addDevice(hall: "省政务服务中心", name: "1号窗口").code)

            try await device.rate(300)
            let proxy = FaultProxy(upstreamPort: first.port)
            proxy.alsoSendTo = [second.port]
            try await proxy.start()
            proxy.inject([.pass, .dropAfterForwarding, .duplicate, .truncateResponse, .pass, .dropAfterForwarding, .status(503),
                          .duplicate, .dropBeforeForwarding, .dropAfterForwarding, .duplicate, .truncateResponse])
            let result = await drain(try device.pusher(baseURL: "http://127.0.0.1:\(proxy.port)", batchRecords: 20))
            #expect(result == .idle, "the drain ended with \(result)\n\(first.log)\n\(second.log)")
            await proxy.quiesce()
            #expect(proxy.requests >= 15, "the device sent \(proxy.requests) requests")
            try await expectExactlyOnce(device, storage)
            #expect(try await storage.alarms().isEmpty)

            // The same batch (same Idempotency-Key) to each instance: the very same signed receipt.
            let deviceKey = try SigningKey.load(path: Enrollment.keyFile(device.location), create: false)
            let batch = Batch(records: try device.store.records(after: 0, limit: 20), deviceId: device.deviceId,
                              sentAt: DeviceTime.format(Date()), key: deviceKey)
            var answers: [HubResponse] = []
            for instance in [first, second] {
                let client = try HTTPHubTransport(baseURL: instance.url)
                let response = try await client.send(method: "POST", path: "/v1/devices/\(device.deviceId)/batches",
                                                     headers: [("Idempotency-Key", batch.idempotencyKey)],
                                                     body: Array(try JSONEncoder().encode(batch)))
                await client.shutdown()
                answers.append(response)
            }
            #expect(answers.map(\.status) == [200, 200])
            #expect(answers[0].body == answers[1].body, "the two instances answered differently")
            let receipt = try JSONDecoder().decode(Receipt.self, from: Data(answers[0].body))
            #expect(receipt.isSigned(by: key.publicKey))
            #expect(receipt.throughSeq >= 20)
            #expect(try await storage.chain(deviceId: device.deviceId).count == 300)

            await proxy.stop()
            await storage.close()
        }
    }
}

/// The export feed pages by cursor; with several instances committing at once, a cursor handed
/// out before another commits must never let a reader step over that commit's records.
@Suite struct ExportOrderTests {
    @Test(.enabled(if: !Backend.postgresSkipped, "PINGJIA_TEST_POSTGRES=0 skips the PostgreSQL leg"))
    func aReaderPagingWhileTwoInstancesIngestMissesNothing() async throws {
        try await withTempDirectory { dir in
            let database = try Backend.postgres.newDatabase(in: dir)
            let key = SigningKey()
            let instances = [try await Backend.postgres.open(database), try await Backend.postgres.open(database)]
            let hubs = instances.map { Hub(storage: $0, key: key, logger: quietLogger) }
            // Sixteen devices, each 25 batches of 4 chained records, signed beforehand: many small commits.
            var queues: [[(key: String, body: [UInt8], deviceId: String)]] = []
            for index in 0..<16 {
                let deviceKey = SigningKey()
                let deviceId = String(format: "pj-0000000000%02d", index)
                let code = try await hubs[0].addDevice(hall: "大厅", name: "\(index)号").code
                _ = try await hubs[0].enroll(EnrollRequest(code: code, deviceId: deviceId, publicKey: deviceKey.publicKey.base64))
                var previous = ChainHash.genesis
                var queue: [(key: String, body: [UInt8], deviceId: String)] = []
                for batchIndex in 0..<25 {
                    let records = (1...4).map { offset -> RatingRecord in
                        let seq = UInt64(batchIndex * 4 + offset)
                        let record = RatingRecord(seq: seq, deviceId: deviceId, rating: TestDevice.rating(Int(seq)), prevHash: previous)
                        previous = record.hash
                        return record
                    }
                    let batch = Batch(records: records, deviceId: deviceId, sentAt: DeviceTime.format(Date()), key: deviceKey)
                    queue.append((batch.idempotencyKey, Array(try JSONEncoder().encode(batch)), deviceId))
                }
                queues.append(queue)
            }
            let total = 16 * 25 * 4
            let done = Locked(false)
            // Several readers with different page sizes, so some page ends while commits are in flight.
            let readers = [1, 2, 3, 5].map { limit in
                Task { () throws -> [Int64] in
                    var cursor: Int64 = 0
                    var seen: [Int64] = []
                    while true {
                        let finished = done.value
                        let page = try await instances[limit % 2].exportRecords(after: cursor, limit: limit)
                        seen += page.map(\.cursor)
                        cursor = page.last?.cursor ?? cursor
                        if page.isEmpty && finished { return seen }
                    }
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for queue in queues {
                    group.addTask {
                        for (index, item) in queue.enumerated() {
                            // Alternate instances, as a load balancer would.
                            let result = await hubs[index % 2].ingest(deviceId: item.deviceId, idempotencyKey: item.key, body: item.body)
                            if case .failure(let problem) = result { Issue.record("batch refused: \(problem)") }
                        }
                    }
                }
            }
            done.mutate { $0 = true }
            for (number, reader) in readers.enumerated() {
                let seen = try await reader.value
                #expect(seen.count == total, "reader \(number) saw \(seen.count) of \(total) records")
                #expect(Set(seen).count == seen.count, "reader \(number) read a record twice")
                #expect(seen == seen.sorted())
            }
            for instance in instances { await instance.close() }
        }
    }
}

/// A built `pingjia-hub serve` on a free loopback port.
final class HubProcess: @unchecked Sendable {
    let process = Process()
    private let output = Locked(Data())
    let port: Int

    var url: String { "http://127.0.0.1:\(port)" }
    var log: String { String(decoding: output.value, as: UTF8.self) }

    init(database: String, key: String) async throws {
        process.executableURL = URL(fileURLWithPath: try Self.executable())
        process.arguments = ["serve", "--db", database, "--key", key, "--port", "0"]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if !chunk.isEmpty { output.mutate { $0.append(chunk) } }
        }
        try process.run()
        // The log line: `... ready ... listening=127.0.0.1:PORT ...`
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            let text = String(decoding: output.value, as: UTF8.self)
            if let range = text.range(of: "listening=127.0.0.1:") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if let port = Int(digits), !digits.isEmpty, text[range.upperBound...].count > digits.count {
                    self.port = port
                    return
                }
            }
            if !process.isRunning || ContinuousClock.now > deadline {
                if process.isRunning { process.terminate() }
                throw HarnessError("pingjia-hub serve did not start:\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }

    /// The `pingjia-hub` SwiftPM built beside this test bundle (the test target depends on it).
    static func executable() throws -> String {
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("pingjia-hub").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        throw HarnessError("no built pingjia-hub beside the test bundle: build with `swift build --build-tests` first")
    }
}

import Foundation
import PingjiaConfig
import PingjiaCore
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import Testing

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct HubStorageTests {
    @Test func writerRunsWithSynchronousFull() async throws {
        try await withTempDirectory { dir in
            let storage = try SQLiteHubStorage(path: dir + "/hub.db")
            defer { storage.close() }
            // GRDB's WAL setup leaves NORMAL (1); a receipt must only cover records on disk.
            #expect(try storage.writerSynchronousMode() == 2)
        }
    }

    @Test(arguments: Backend.all)
    func enrollmentCodeIsSingleUseAndExpires(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let clock = Locked(Date())
            let storage = try await backend.open(try backend.newDatabase(in: dir))
            let hub = Hub(storage: storage, key: SigningKey(), logger: quietLogger, now: { clock.value })
            let key = SigningKey().publicKey.base64
            let first = try await hub.addDevice(hall: "大厅", name: "1号")
            #expect(first.code.count == 9 && first.code.contains("-"))
            // Typed sloppily (lowercase, no dash) it still works, once.
            let typed = first.code.lowercased().replacingOccurrences(of: "-", with: "")
            #expect(try await hub.enroll(EnrollRequest(code: typed, deviceId: "pj-000000000001", publicKey: key)).hall == "大厅")
            await #expect(throws: HubError.badCode) {
                try await hub.enroll(EnrollRequest(code: first.code, deviceId: "pj-000000000002", publicKey: key))
            }
            let second = try await hub.addDevice(hall: "大厅", name: "2号", validFor: 3600)
            clock.mutate { $0 = $0.addingTimeInterval(3601) }
            await #expect(throws: HubError.badCode) {
                try await hub.enroll(EnrollRequest(code: second.code, deviceId: "pj-000000000002", publicKey: key))
            }
            // A device id enrolled once cannot take a second slot (its key would be replaced).
            let third = try await hub.addDevice(hall: "大厅", name: "3号")
            await #expect(throws: HubError.alreadyEnrolled("pj-000000000001")) {
                try await hub.enroll(EnrollRequest(code: third.code, deviceId: "pj-000000000001", publicKey: key))
            }
            await storage.close()
        }
    }

    /// Several instances starting at once on a new database: one applies the migrations, the
    /// others wait on the advisory lock and find nothing left to do.
    @Test(.enabled(if: !Backend.postgresSkipped, "PINGJIA_TEST_POSTGRES=0 skips the PostgreSQL leg"))
    func postgresMigrationsApplyOnceWhenInstancesStartTogether() async throws {
        try await withTempDirectory { dir in
            let database = try Backend.postgres.newDatabase(in: dir)
            let storages = try await withThrowingTaskGroup(of: (any HubStorage).self) { group in
                for _ in 0..<4 { group.addTask { try await Backend.postgres.open(database) } }
                var opened: [any HubStorage] = []
                for try await storage in group { opened.append(storage) }
                return opened
            }
            #expect(storages.count == 4)
            // All four see one schema: a device added through one is listed by the others.
            _ = try await storages[0].addDevice(hall: "大厅", name: "1号", codeDigest: [1, 2, 3], expiresAt: Date(), now: Date())
            for storage in storages { #expect(try await storage.devices().count == 1) }
            for storage in storages { await storage.close() }
            // Opening again changes nothing and still works.
            let again = try await Backend.postgres.open(database)
            #expect(try await again.devices().count == 1)
            await again.close()
        }
    }

    @Test func codesUseAnUnambiguousAlphabet() {
        for _ in 0..<200 {
            let code = EnrollmentCode.make()
            #expect(EnrollmentCode.normalize(code) == code)
            #expect(!code.contains { "01OIL".contains($0) })
        }
        #expect(EnrollmentCode.normalize("ABCD-EFG0") == nil)
        #expect(EnrollmentCode.normalize("abcd efgh") == "ABCD-EFGH")
    }
}

@Suite struct HubHTTPTests {
    static func send(_ hub: HubHarness, _ method: String, _ path: String, headers: [(String, String)] = [],
                     body: [UInt8]?) async throws -> HubResponse {
        let transport = try HTTPHubTransport(baseURL: hub.url, maxResponseBytes: 1 << 24)
        // Shut down on failure too: a client dropped unshut aborts the whole test process.
        let response: HubResponse
        do {
            response = try await transport.send(method: method, path: path, headers: headers, body: body)
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
        return response
    }

    static func problem(_ response: HubResponse) -> Problem? {
        try? JSONDecoder().decode(Problem.self, from: Data(response.body))
    }

    @Test(arguments: Backend.all)
    func malformedBodiesGetProblemDetailsNamingWhatAndWhere(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            let path = "/v1/devices/\(device.deviceId)/batches"

            let notJSON = try await Self.send(hub, "POST", path, headers: [("Idempotency-Key", "k1")], body: Array("{oops".utf8))
            #expect(notJSON.status == 400)
            #expect(Self.problem(notJSON)?.type == Problem.Kind.malformed)

            let missing = try await Self.send(hub, "POST", path, headers: [("Idempotency-Key", "k2")],
                                              body: Array(#"{"format":"PJB1","deviceId":"x"}"#.utf8))
            #expect(missing.status == 400)
            #expect(Self.problem(missing)?.detail.contains("missing field 'fromSeq'") == true, "\(String(describing: Self.problem(missing)))")

            try await device.rate(2)
            var batch = Batch(records: try device.store.records(after: 0), deviceId: device.deviceId, sentAt: "t",
                              key: try SigningKey.load(path: Enrollment.keyFile(device.location), create: false))
            batch.records[1].channel = "fax"
            let badField = try await Self.send(hub, "POST", path, headers: [("Idempotency-Key", "k3")],
                                               body: Array(try JSONEncoder().encode(batch)))
            #expect(badField.status == 400)
            #expect(Self.problem(badField)?.detail == "record seq 2, field channel: 'fax' is not one of keypad, touch, qr")

            let noKey = try await Self.send(hub, "POST", path, body: Array(try JSONEncoder().encode(batch)))
            #expect(noKey.status == 400)
            #expect(Self.problem(noKey)?.detail.contains("Idempotency-Key") == true)

            let unknown = try await Self.send(hub, "POST", "/v1/devices/pj-ffffffffffff/batches", headers: [("Idempotency-Key", "k")], body: [])
            #expect(unknown.status == 404)
            #expect(Self.problem(unknown)?.type == Problem.Kind.unknownDevice)

            // None of it touched the store; a good batch still goes through.
            #expect(try await hub.storage.chain(deviceId: device.deviceId).isEmpty)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            try await expectExactlyOnce(device, hub)
            await hub.stop()
        }
    }

    /// Request floods: HubRateLimitTests.
    @Test func bodiesOverTheLimitAre413() async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir)
            try await hub.start { $0.maxBodyBytes = 10_000 }
            let big = try await Self.send(hub, "POST", "/v1/devices/pj-000000000001/batches", headers: [("Idempotency-Key", "k")],
                                          body: [UInt8](repeating: 32, count: 20_000))
            #expect(big.status == 413)
            #expect(Self.problem(big)?.type == Problem.Kind.tooLarge)
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func receiptRecordsTheDeviceClockOffset(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            try await device.rate(1)
            let key = try SigningKey.load(path: Enrollment.keyFile(device.location), create: false)
            // The device's clock is 90 s fast.
            let sentAt = DeviceTime.format(Date().addingTimeInterval(90))
            let batch = Batch(records: try device.store.records(after: 0), deviceId: device.deviceId, sentAt: sentAt, key: key)
            let response = try await Self.send(hub, "POST", "/v1/devices/\(device.deviceId)/batches",
                                               headers: [("Idempotency-Key", batch.idempotencyKey)], body: Array(try JSONEncoder().encode(batch)))
            #expect(response.status == 200)
            let receipt = try JSONDecoder().decode(Receipt.self, from: Data(response.body))
            #expect(receipt.isSigned(by: hub.key.publicKey))
            #expect(WireTime.parse(receipt.receivedAt) != nil)
            let offset = try #require(try await hub.storage.device(id: device.deviceId)?.clockOffsetMs)
            #expect((85_000...95_000).contains(offset), "offset \(offset) ms")
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func exportFeedNeedsTheTokenAndPagesByCursor(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir, backend: backend)
            let token = "export-token-0123456789"
            try await hub.start { $0.exportToken = token }
            let device = try await enrolledDevice(dir, with: hub)
            defer { device.close() }
            try await device.rate(7)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)

            #expect(try await Self.send(hub, "GET", "/v1/export?after=0&limit=5", body: nil).status == 401)
            let auth = [("Authorization", "Bearer \(token)")]
            struct Page: Decodable {
                struct Item: Decodable { let cursor: Int64; let fields: [String: String]? }
                let items: [Item]
                let nextCursor: Int64?
            }
            let first = try JSONDecoder().decode(Page.self, from: Data(try await Self.send(hub, "GET", "/v1/export?after=0&limit=5",
                                                                                           headers: auth, body: nil).body))
            #expect(first.items.count == 5)
            #expect(first.items.first?.fields?["评价序号"] == "1")
            let second = try JSONDecoder().decode(Page.self, from: Data(try await Self.send(
                hub, "GET", "/v1/export?after=\(first.nextCursor ?? 0)&limit=5", headers: auth, body: nil).body))
            #expect(second.items.map { $0.fields?["评价序号"] } == ["6", "7"])
            let ack = try await Self.send(hub, "POST", "/v1/export/ack", headers: auth,
                                          body: Array("{\"throughCursor\":\(second.nextCursor ?? 0)}".utf8))
            #expect(ack.status == 200)
            #expect(try await hub.storage.exportCursor(consumer: "export") == second.nextCursor)
            let beyond = try await Self.send(hub, "POST", "/v1/export/ack", headers: auth, body: Array("{\"throughCursor\":999}".utf8))
            #expect(beyond.status == 400)
            await hub.stop()
        }
    }
}

@Suite struct GBT39046MappingTests {
    static let scales = ScaleCatalog(directories: [repositoryRoot.appendingPathComponent("scales").path])

    static func record(scale: Scale, level: ScaleLevel, channel: RatingChannel) -> RatingRecord {
        let rating = NewRating(staffId: "A1023", windowId: "3", matterCode: "M1", caseNo: "C1", channel: channel, scale: scale.name,
                               level: level.value, code: level.code, reasons: level.isBad ? ["slow", "attitude"] : [],
                               comment: "好", ratedAt: "2026-11-24T23:59:58.999+08:00", monotonicNs: 1)
        return RatingRecord(seq: 9, deviceId: "pj-0123456789ab", rating: rating, prevHash: .genesis)
    }

    @Test(arguments: ["five", "three"])
    func everyLevelOfTheShippedScaleMapsToItsStandardCode(scaleName: String) throws {
        let scale = try #require(Self.scales.scales[scaleName], "scale \(scaleName) did not load: \(Self.scales.problems)")
        #expect(GBT39046.satisfactionCodes[scaleName]?.count == scale.levels.count, "the table must cover every level")
        for level in scale.levels {
            let fields = try GBT39046.map(Self.record(scale: scale, level: level, channel: .keypad), receivedAt: "2026-11-24T16:00:00.000Z").get()
            #expect(fields["满意度代码"] == String(level.code.rawValue), "\(scaleName) level \(level.value)")
            #expect(fields["满意度"] == level.code.standardLabel)
        }
    }

    @Test func theTableIsExplicit() {
        #expect(GBT39046.satisfactionCodes["five"] == [1: "1", 2: "2", 3: "3", 4: "4", 5: "5"])
        #expect(GBT39046.satisfactionCodes["three"] == [1: "2", 2: "3", 3: "4"])
        #expect(GBT39046.satisfactionLabels == ["1": "非常满意", "2": "满意", "3": "基本满意", "4": "不满意", "5": "非常不满意"])
    }

    @Test(arguments: RatingChannel.allCases)
    func everyChannelHasAnEvaluationChannelCode(channel: RatingChannel) throws {
        let scale = try #require(Self.scales.scales["five"])
        let fields = try GBT39046.map(Self.record(scale: scale, level: scale.levels[0], channel: channel), receivedAt: "x").get()
        let expected: [RatingChannel: String] = [.keypad: "3", .touch: "4", .qr: "2"]
        #expect(fields["评价渠道"] == expected[channel])
    }

    @Test func timesAndTheOtherFieldsAreFilled() throws {
        let scale = try #require(Self.scales.scales["five"])
        let record = Self.record(scale: scale, level: scale.levels[4], channel: .qr)
        let fields = try GBT39046.map(record, receivedAt: "2026-11-24T16:00:01.500Z").get()
        // Local time as the citizen saw it, not converted across midnight.
        #expect(fields["评价时间"] == "20261124T235958")
        #expect(fields["接收时间"] == "20261125T000001")
        #expect(fields["差评原因"] == "办理速度慢;服务态度差")
        #expect(fields["事项编码"] == "M1")
        #expect(fields["办件编号"] == "C1")
        #expect(fields["评价编号"] == record.rating.id.uuidString.lowercased())
        #expect(fields["记录哈希"] == record.hash.hex)
        #expect(Set(fields.keys).isSubset(of: Set(GBT39046.fields.map(\.name))))
    }

    @Test func aLevelOutsideTheTableIsRefusedNotGuessed() throws {
        let rating = NewRating(staffId: "A1", windowId: "1", channel: .keypad, scale: "seven", level: 6,
                               code: SatisfactionCode(rawValue: 4)!, ratedAt: "2026-11-24T10:00:00.000+08:00", monotonicNs: 0)
        let record = RatingRecord(seq: 1, deviceId: "pj-1", rating: rating, prevHash: .genesis)
        #expect(throws: GBT39046.MappingError.self) { try GBT39046.map(record, receivedAt: "x").get() }
    }
}

/// A value shared between tasks.
final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

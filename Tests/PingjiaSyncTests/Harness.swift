import Foundation
import GRDB
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import ServiceLifecycle
import Testing

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Logs only what matters when a test fails.
let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}()

/// A fresh directory of its own, removed afterwards.
func withTempDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("PingjiaSyncTests-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    return try await body(dir)
}

/// The hub storage backends the hub tests run against: every such test takes a `Backend`
/// argument and runs once for each, so both backends pass the same suite.
enum Backend: String, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    /// Both, unless PINGJIA_TEST_POSTGRES=0 (`make test` then says loudly that PostgreSQL was skipped).
    static let all: [Backend] = postgresSkipped ? [.sqlite] : [.sqlite, .postgres]
    static var postgresSkipped: Bool { ProcessInfo.processInfo.environment["PINGJIA_TEST_POSTGRES"] == "0" }

    var description: String { rawValue }

    /// A new, empty database for one hub: a file in `directory`, or a schema of its own on the
    /// test server, so tests running at once never share one.
    func newDatabase(in directory: String) throws -> String {
        switch self {
        case .sqlite:
            return directory + "/hub/hub.db"
        case .postgres:
            guard let server = ProcessInfo.processInfo.environment["PINGJIA_TEST_POSTGRES_URL"], !server.isEmpty else {
                throw HarnessError("""
                    the PostgreSQL leg needs a server: run the tests through scripts/with-postgres.sh (make test does), \
                    or set PINGJIA_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB; PINGJIA_TEST_POSTGRES=0 skips this leg
                    """)
            }
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
            return server + (server.contains("?") ? "&" : "?") + "schema=" + schema
        }
    }

    func open(_ database: String) async throws -> any HubStorage {
        switch self {
        // Opening migrates, a run of fsyncs: off the cooperative pool, as every SQLite call is.
        case .sqlite: try await runBlocking { try SQLiteHubStorage(path: database) }
        case .postgres: try await PostgresHubStorage(url: database, maxConnections: 8, logger: quietLogger)
        }
    }
}

/// The real hub (HTTP on a loopback port, SQLite file or PostgreSQL schema) that can be stopped
/// and started again on the same database, as an operator restarting it would.
final class HubHarness: @unchecked Sendable {
    let backend: Backend
    /// The SQLite file (for the backup test); with PostgreSQL, see `database`.
    let dbPath: String
    private let directory: String
    private var _database: String?
    let key = SigningKey()
    var now: @Sendable () -> Date = Date.init
    private(set) var storage: (any HubStorage)!
    private(set) var hub: Hub!
    private(set) var port = 0
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?

    init(directory: String, backend: Backend = .sqlite) {
        self.backend = backend
        self.directory = directory
        dbPath = directory + "/hub/hub.db"
    }

    /// Where the hub keeps its data, the same across restarts.
    func database() throws -> String {
        if let _database { return _database }
        let database = try backend.newDatabase(in: directory)
        _database = database
        return database
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func start(settings configure: (inout HubSettings) -> Void = { _ in }) async throws {
        storage = try await backend.open(try database())
        hub = Hub(storage: storage, key: key, logger: quietLogger, now: now)
        var settings = HubSettings()
        settings.port = 0
        settings.requestsPerSecond = 100_000
        settings.burst = 100_000
        settings.refusalsPerSecond = 100_000
        settings.refusalBurst = 100_000
        configure(&settings)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(hub: hub, settings: settings, logger: quietLogger) { port in continuation.yield(port) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: quietLogger)
        self.group = group
        task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw HarnessError("the hub did not start") }
        port = bound
    }

    func stop() async {
        await group?.triggerGracefulShutdown()
        _ = await task?.result
        await storage?.close()
        group = nil
        task = nil
    }

    func restart() async throws {
        await stop()
        try await start()
    }

    /// A one-time code for a new device slot.
    func code(hall: String = "测试大厅", name: String = "1号窗口") async throws -> String {
        try await hub.addDevice(hall: hall, name: name).code
    }
}

/// A kiosk's state directory with a real store, enrolled with a hub.
final class TestDevice: @unchecked Sendable {
    let location: StateLocation
    let deviceId: String
    let store: KioskStore
    private(set) var enrollment: Enrollment?

    init(directory: String, name: String = "device") throws {
        // Reopening the same state directory (after a restore) finds its enrollment again.
        let state = directory + "/" + name
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        location = StateLocation(stateDirectory: state, configFile: nil, environment: [:], isRoot: false)
        deviceId = try DeviceIdentity.load(location, create: true)
        store = try KioskStore.open(path: location.storeFile, deviceId: deviceId, logger: quietLogger)
        enrollment = try? Enrollment.load(location)
    }

    func enroll(with hub: HubHarness) async throws {
        try await enroll(hubURL: hub.url, code: try await hub.code())
    }

    /// Enrolls with the hub at `hubURL` (a `pingjia-hub serve` process, say) with a code it issued.
    func enroll(hubURL: String, code: String) async throws {
        let transport = try HTTPHubTransport(baseURL: hubURL, timeout: .seconds(10))
        do {
            enrollment = try await Enrollment.enroll(location: location, deviceId: deviceId, hubURL: hubURL,
                                                     code: code, transport: transport)
        } catch {
            await transport.shutdown()
            throw error
        }
        await transport.shutdown()
    }

    /// Reads the enrollment a previous `TestDevice` on this state directory made.
    func adoptEnrollment() throws {
        enrollment = try Enrollment.load(location)
        if enrollment == nil { throw HarnessError("no enrollment in \(location.stateDirectory)") }
    }

    /// Ratings through the store's one path (one transaction each).
    /// Off the cooperative pool: each commit waits for fsync, and the in-process hubs of the
    /// tests running beside this one need the pool's threads meanwhile.
    func rate(_ count: Int, comment: String? = nil) async throws {
        let store = self.store
        try await runBlocking {
            for index in 0..<count { _ = try store.append(TestDevice.rating(index, comment: comment)) }
        }
    }

    static func rating(_ index: Int, comment: String? = nil) -> NewRating {
        let level = index % 5 + 1
        return NewRating(staffId: "A\(1000 + index % 7)", windowId: "\(index % 9 + 1)", matterCode: "11000000000000000X4440111700001",
                         channel: [RatingChannel.keypad, .touch, .qr][index % 3], scale: "five", level: level,
                         code: SatisfactionCode(rawValue: level)!, reasons: level >= 4 ? ["slow"] : [],
                         comment: comment ?? (level == 5 ? "等了很久" : nil),
                         ratedAt: DeviceTime.format(Date()), monotonicNs: UInt64(index) * 1_000_000,
                         flags: index % 11 == 0 ? [.test] : [])
    }

    /// A large offline backlog, written in one transaction: the same chained records the store
    /// makes, without 100,000 fsyncs. Only test set-up writes the outbox this way.
    func bulkFill(_ count: Int) async throws {
        let path = location.storeFile, deviceId = self.deviceId
        try await runBlocking { try TestDevice.writeBacklog(count, path: path, deviceId: deviceId) }
    }

    private static func writeBacklog(_ count: Int, path: String, deviceId: String) throws {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.write { db in
            var previous = ChainHash.genesis
            var seq: UInt64 = 0
            if let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM rating ORDER BY seq DESC LIMIT 1") {
                seq = UInt64(row["seq"] as Int64)
                previous = ChainHash(bytes: [UInt8](row["hash"] as Data))!
            }
            let statement = try db.makeStatement(sql: """
                INSERT INTO rating (seq, id, device_id, staff_id, window_id, matter_code, case_no, channel,
                    scale, level, code, reasons, comment, rated_at, monotonic_ns, flags, prev_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for index in 0..<count {
                seq += 1
                let rating = Self.rating(index)
                let record = RatingRecord(seq: seq, deviceId: deviceId, rating: rating, prevHash: previous)
                try statement.execute(arguments: [
                    Int64(seq), rating.id.uuidString.lowercased(), deviceId, rating.staffId, rating.windowId, rating.matterCode,
                    rating.caseNo, rating.channel.rawValue, rating.scale, rating.level, rating.code?.rawValue ?? 0,
                    rating.reasons.isEmpty ? "[]" : "[\"slow\"]", rating.comment, rating.ratedAt, Int64(rating.monotonicNs),
                    rating.flags.isEmpty ? "[]" : "[\"test\"]", Data(record.prevHash.bytes), Data(record.hash.bytes),
                ])
                previous = record.hash
            }
        }
    }

    /// A push loop to `baseURL` (the hub, or the fault proxy in front of it).
    func pusher(baseURL: String, batchRecords: Int = 20, timeout: Duration = .seconds(2),
                key: SigningKey? = nil, caBundle: String? = nil) throws -> Pusher {
        guard let enrollment else { throw HarnessError("enroll the device first") }
        var settings = PushSettings()
        settings.batchRecords = batchRecords
        settings.backoffBase = .milliseconds(10)
        settings.backoffCap = .milliseconds(200)
        settings.idlePoll = .milliseconds(20)
        settings.deadLetterPoll = .milliseconds(50)
        let deviceKey = try key ?? SigningKey.load(path: Enrollment.keyFile(location), create: false)
        return Pusher(store: store, key: deviceKey, hubKey: PublicKey(base64: enrollment.hubPublicKey)!,
                      transport: try HTTPHubTransport(baseURL: baseURL, caBundle: caBundle, timeout: timeout), settings: settings, logger: quietLogger)
    }

    /// Every (seq, hash) in the outbox.
    func chain() throws -> [(seq: UInt64, hash: ChainHash)] {
        try store.records(after: 0, limit: Int.max).map { ($0.seq, $0.hash) }
    }

    func close() { store.close() }
}
/// A device in `dir` enrolled with `hub`; closed again if enrolment fails, so a failing test
/// leaves no store open.
func enrolledDevice(_ dir: String, with hub: HubHarness) async throws -> TestDevice {
    let device = try TestDevice(directory: dir)
    do {
        try await device.enroll(with: hub)
    } catch {
        device.close()
        throw error
    }
    return device
}

/// The usual start of a sync test: a hub with default settings and one device enrolled with it.
func startHubWithEnrolledDevice(_ dir: String, _ backend: Backend = .sqlite) async throws -> (HubHarness, TestDevice) {
    let hub = HubHarness(directory: dir, backend: backend)
    try await hub.start()
    return (hub, try await enrolledDevice(dir, with: hub))
}


/// Drains `pusher` and then shuts its client down.
func drain(_ pusher: Pusher, within limit: Duration = .seconds(120)) async -> Pusher.Step {
    let result = await pusher.drain(deadline: .now + limit)
    await pusher.transport.shutdown()
    return result
}

/// The acceptance check after every scenario: the hub holds exactly the device's records, by
/// seq and hash, none missing and none twice, its stored chain verifies, and the device's
/// receipts cover everything.
func expectExactlyOnce(_ device: TestDevice, _ hub: HubHarness, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    try await expectExactlyOnce(device, hub.storage, sourceLocation: sourceLocation)
}

func expectExactlyOnce(_ device: TestDevice, _ storage: any HubStorage, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let ours = try device.chain()
    let theirs = try await storage.chain(deviceId: device.deviceId)
    #expect(ours.count == theirs.count, "device has \(ours.count) records, hub \(theirs.count)", sourceLocation: sourceLocation)
    // The first difference, rather than two arrays of thousands of hashes.
    let firstDifference = zip(ours, theirs).first { $0.seq != $1.seq || $0.hash != $1.hash }
    let difference = firstDifference.map { "device seq \($0.0.seq) \($0.0.hash.hex), hub seq \($0.1.seq) \($0.1.hash.hex)" }
    #expect(difference == nil, "first difference: \(difference ?? "")", sourceLocation: sourceLocation)
    #expect(Set(theirs.map(\.seq)).count == theirs.count, "a seq is stored twice", sourceLocation: sourceLocation)
    #expect(try await storage.verifyChain(deviceId: device.deviceId) == .intact(count: ours.count, lastSeq: UInt64(ours.count)),
            sourceLocation: sourceLocation)
    let state = try device.store.syncState()
    #expect(state.ackedThroughSeq == state.lastSeq, "acknowledged through \(state.ackedThroughSeq) of \(state.lastSeq)",
            sourceLocation: sourceLocation)
    #expect(state.deadLetterReason == nil, "dead letter: \(state.deadLetterReason ?? "")", sourceLocation: sourceLocation)
}

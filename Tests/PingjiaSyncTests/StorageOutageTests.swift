import Foundation
import PingjiaCore
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The hub's database goes away while a kiosk drains through it: the built `pingjia-hub serve`
/// (a process of its own, as in production) on a PostgreSQL cluster that is stopped, or on a
/// SQLite file that another process holds locked. The kiosk's real push loop must see only
/// "retry later" (503), never a refusal: no dead letter, no alarm, and once the database is back
/// the hub holds exactly the kiosk's chain with nobody running `pingjia sync retry`.
@Suite(.serialized) struct StorageOutageTests {
    @Test func aStoppedPostgreSQLServerNeverStopsAKiosk() async throws {
        guard !Backend.postgresSkipped else { return }
        try await withTempDirectory { dir in
            let cluster = try await LocalPostgres(directory: dir + "/pg")
            defer { cluster.stopQuietly() }
            try await Self.drainThroughAnOutage(dir: dir, database: cluster.url, backend: .postgres,
                                                outage: { try await cluster.stop() }, recovery: { try await cluster.start() })
        }
    }

    @Test func aSQLiteFileLockedByAnotherProcessNeverStopsAKiosk() async throws {
        try await withTempDirectory { dir in
            let database = dir + "/hub/hub.db"
            let locker = SQLiteLocker(database: database)
            defer { locker.release() }
            try await Self.drainThroughAnOutage(dir: dir, database: database, backend: .sqlite,
                                                outage: { try await locker.hold() }, recovery: { locker.release() })
        }
    }

    static func drainThroughAnOutage(dir: String, database: String, backend: Backend,
                                     outage: () async throws -> Void, recovery: () async throws -> Void) async throws {
        let keyPath = dir + "/hub.key"
        let key = try SigningKey.load(path: keyPath, create: true)
        // The slot is made through a storage of the test's own, closed before the hub starts.
        let code: String
        do {
            let storage = try await backend.open(database)
            code = try await Hub(storage: storage, key: key, logger: quietLogger).addDevice(hall: "市民中心", name: "1号窗口").code
            await storage.close()
        }
        let hub = try await HubProcess(database: database, key: keyPath)
        defer { hub.stop() }
        let device = try TestDevice(directory: dir)
        defer { device.close() }
        try await device.enroll(hubURL: hub.url, code: code)

        // The daemon's push loop, running throughout.
        try await device.rate(30)
        let pusher = try device.pusher(baseURL: hub.url, batchRecords: 5, timeout: .seconds(60))
        let loop = Task { await pusher.run() }
        do {
            try await Self.outageWhileDraining(device, hub, outage: outage, recovery: recovery)
        } catch {
            loop.cancel()
            _ = await loop.result
            await pusher.transport.shutdown()
            throw error
        }
        loop.cancel()
        _ = await loop.result
        await pusher.transport.shutdown()
        let after = try device.store.syncState()
        #expect(after.deadLetterReason == nil)
        #expect(!hub.log.contains("unknown-device"))

        let storage = try await backend.open(database)
        try await expectExactlyOnce(device, storage)
        #expect(try await storage.alarms().isEmpty)
        await storage.close()
    }
}

extension StorageOutageTests {
    static func outageWhileDraining(_ device: TestDevice, _ hub: HubProcess, outage: () async throws -> Void,
                                    recovery: () async throws -> Void) async throws {
        try await waitUntil("the first 30 ratings are delivered\n\(hub.log)", within: .seconds(180)) {
            try device.store.syncState().ackedThroughSeq == 30
        }
        try await outage()
        let before = try device.store.syncState().lastErrorAt
        // The hall keeps rating while the hub's database is away.
        try await device.rate(30)
        try await waitUntil("the kiosk meets the outage\n\(hub.log)", within: .seconds(180)) {
            try device.store.syncState().lastErrorAt != before
        }
        // Several attempts fail while it lasts; none of them stops the kiosk.
        let firstError = try device.store.syncState().lastError ?? ""
        #expect(!firstError.contains("unknown-device"), "\(firstError)")
        try await Task.sleep(for: .seconds(3))
        let during = try device.store.syncState()
        #expect(during.deadLetterReason == nil, "dead letter during the outage: \(during.deadLetterReason ?? "")")
        #expect(during.ackedThroughSeq < 60)

        try await recovery()
        try await waitUntil("the kiosk catches up after the outage\n\(hub.log)", within: .seconds(180)) {
            try device.store.syncState().ackedThroughSeq == 60
        }
    }
}

/// Polls `condition` until it holds, or fails the test with `what`.
func waitUntil(_ what: @autoclosure () -> String, within limit: Duration = .seconds(60), every step: Duration = .milliseconds(50),
               _ condition: () throws -> Bool) async throws {
    let deadline = ContinuousClock.now + limit
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw HarnessError("timed out waiting until \(what())") }
        try await Task.sleep(for: step)
    }
}

/// A PostgreSQL cluster of the test's own (scripts/local-postgres.sh), so it can be stopped and
/// started without touching the server the other tests share.
final class LocalPostgres: Sendable {
    let directory: String
    let port: Int
    var url: String { "postgres://pingjia@127.0.0.1:\(port)/pingjia_hub" }

    init(directory: String) async throws {
        self.directory = directory
        port = try freeLoopbackPort()
        try await start()
    }

    func start() async throws { try await Self.script(["start", directory, "\(port)"]) }
    func stop() async throws { try await Self.script(["stop", directory]) }
    func stopQuietly() { _ = try? Self.run(["stop", directory]) }

    static func script(_ arguments: [String]) async throws {
        let (status, output) = try await runBlocking { try run(arguments) }
        guard status == 0 else { throw HarnessError("scripts/local-postgres.sh \(arguments.joined(separator: " ")) failed:\n\(output)") }
    }

    /// posix_spawn and waitpid rather than Foundation's `Process`, whose child reaping stalled here
    /// once pg_ctl had left a server running.
    private static func run(_ arguments: [String]) throws -> (Int32, String) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/local-postgres.sh").path
        // A file, not a pipe: the server pg_ctl starts inherits the output and would hold a pipe open.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("local-postgres-\(UUID().uuidString).log").path
        defer { unlink(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([script] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, script, &actions, nil, argv, environ)
        guard spawned == 0 else { throw HarnessError("cannot run \(script): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exitStatus, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }
}

/// A port nobody listens on now (bind to 0, read it back, close).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw HarnessError("cannot bind a loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Another process holding a SQLite database's WAL locks (bytes 120-127 of the `-shm` file, as
/// a stuck backup tool or an administrator's open transaction can): every reader and writer of
/// the hub gets SQLITE_BUSY or SQLITE_PROTOCOL until it lets go.
final class SQLiteLocker: @unchecked Sendable {
    let database: String
    private var process: Process?
    private var input: Pipe?

    init(database: String) { self.database = database }

    func hold() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import fcntl, os, sys
            fd = os.open(sys.argv[1], os.O_RDWR)
            fcntl.lockf(fd, fcntl.LOCK_EX, 8, 120)
            print("held", flush=True)
            sys.stdin.read()
            """, database + "-shm"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        self.process = process
        self.input = input
        let line = try await runBlocking { output.fileHandleForReading.readData(ofLength: 5) }
        guard String(decoding: line, as: UTF8.self) == "held\n" else { throw HarnessError("the lock on \(database)-shm was not taken") }
    }

    func release() {
        guard let process, let input else { return }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        self.process = nil
        self.input = nil
    }
}

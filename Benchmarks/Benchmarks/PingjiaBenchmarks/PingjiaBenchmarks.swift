import Benchmark
import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaHub
import PingjiaKiosk
import PingjiaQR
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import ServiceLifecycle

// The names are what Benchmarks/run.py looks for; keep them in step.
let benchmarks: @Sendable () -> Void = {
    let environment = ProcessInfo.processInfo.environment

    // Press -> durable commit: `KioskContext.press` from call to return, the one path of the
    // keypad, the touch page and the local API: the choice checked, the session engine's
    // decision, the staff member looked up, the commit with WAL + synchronous=FULL (fsync'd) on
    // the store's writer thread, the display told. The daemon thanks the keypad only after this
    // returns, so it is the part of a press the citizen can wait on.
    Benchmark("press-commit",
              configuration: .init(metrics: [.wallClock, .throughput], timeUnits: .microseconds,
                                   warmupIterations: 20, maxDuration: .seconds(20), maxIterations: 2_000),
              closure: { _ in
                  try await pressState.press()
              },
              setup: { try pressState.open() },
              teardown: { pressState.close() })

    // The same with the hub unreachable: the push loop and the heartbeat hang on a socket that
    // never answers. Acceptance: ratings are unaffected (p99 compared with press-commit's).
    Benchmark("press-commit-hub-unreachable",
              configuration: .init(metrics: [.wallClock, .throughput], timeUnits: .microseconds,
                                   warmupIterations: 20, maxDuration: .seconds(20), maxIterations: 2_000),
              closure: { _ in
                  try await unreachableHubState.commit()
              },
              setup: { try await unreachableHubState.open() },
              teardown: { await unreachableHubState.close() })

    // The QR code of a staff member's rating link, encoded and rendered as PNG (8 px per module,
    // quiet zone 4), as `pingjia qr` and the window display make it.
    Benchmark("qr-png",
              configuration: .init(metrics: [.wallClock, .throughput], timeUnits: .microseconds,
                                   warmupIterations: 20, maxDuration: .seconds(10), maxIterations: 5_000),
              closure: { _ in
                  let matrix = try QRMatrix(payload: qrPayload, errorCorrection: .medium)
                  blackHole(try QRRenderer.png(matrix, options: QRRenderOptions(moduleSize: 8, quietZone: 4)))
              })

    // A kiosk that was offline for weeks: its buffered ratings pushed to a hub on loopback until
    // the last receipt. One run; the store is filled and the hub started in setup.
    let count = environment["PINGJIA_BENCH_DRAIN"].flatMap { Int($0) } ?? 1_000_000
    Benchmark("push-drain",
              configuration: .init(metrics: [.wallClock, .throughput], timeUnits: .milliseconds,
                                   warmupIterations: 0, maxDuration: .seconds(1_800), maxIterations: 1),
              closure: { _ in
                  try await drainState.drain()
              },
              setup: { try await drainState.prepare(count: count) },
              teardown: { await drainState.stop() })
}

let qrPayload = "https://pj.example.gov.cn/r/pj-0123456789ab/A1023?w=3&s=five"

let quiet = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }

func benchRating(_ index: Int) -> NewRating {
    let level = index % 5 + 1
    return NewRating(staffId: "A\(1000 + index % 7)", windowId: "\(index % 9 + 1)", matterCode: "11000000000000000X4440111700001",
                     channel: [RatingChannel.keypad, .touch, .qr][index % 3], scale: "five", level: level,
                     code: SatisfactionCode(rawValue: level)!, reasons: level >= 4 ? ["slow"] : [],
                     comment: level == 5 ? "等了很久" : nil,
                     ratedAt: DeviceTime.format(Date()), monotonicNs: UInt64(index) * 1_000_000)
}

func scratchDirectory(_ name: String) throws -> String {
    // BENCH_DIR puts the files on the disk being measured (run.py passes one); default: TMPDIR.
    let base = ProcessInfo.processInfo.environment["BENCH_DIR"] ?? NSTemporaryDirectory()
    let path = (base as NSString).appendingPathComponent("pingjia-bench-\(name)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A kiosk's state directory with one staff member at an open window, and its session engine:
/// what `pingjiad` presses into.
final class PressState: @unchecked Sendable {
    private var directory: String?
    private(set) var kiosk: KioskContext?
    private var sessions: SessionEngine?
    private var index = 0

    func open() throws {
        let directory = try scratchDirectory("press")
        self.directory = directory
        let location = StateLocation(stateDirectory: directory, configFile: nil, environment: [:], isRoot: false)
        try "[[window]]\nid = \"3\"\nmode = \"open\"\n".write(toFile: location.configFile, atomically: true, encoding: .utf8)
        let kiosk = try KioskContext(location: location, create: true, logger: quiet)
        _ = try kiosk.scale()   // the shipped scales (PINGJIA_DATA_DIR): a press without one would fail every time
        _ = try kiosk.store.importRoster(staff: [Staff(id: "A1023", name: "张三", windowId: "3")],
                                         windows: [ServiceWindow(id: "3", name: "3号窗口")], replace: true)
        self.kiosk = kiosk
        sessions = SessionEngine(settings: kiosk.config.sessions)
    }

    func press() async throws {
        index += 1
        let level = index % 5 + 1
        blackHole(try await kiosk!.press(Press(windowId: "3", level: level, reasons: level >= 4 ? ["slow"] : [], channel: .keypad,
                                               staffId: "A1023"), sessions: sessions))
    }

    func close() {
        kiosk?.close()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}
let pressState = PressState()

final class DrainState: @unchecked Sendable {
    private var directory: String?
    private var store: KioskStore?
    private var storage: SQLiteHubStorage?
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?
    private var pusher: Pusher?
    private var count = 0

    func prepare(count: Int) async throws {
        self.count = count
        let directory = try scratchDirectory("drain")
        self.directory = directory
        let location = StateLocation(stateDirectory: directory + "/device", configFile: nil, environment: [:], isRoot: false)
        try FileManager.default.createDirectory(atPath: location.stateDirectory, withIntermediateDirectories: true)
        let deviceId = try DeviceIdentity.load(location, create: true)
        let store = try KioskStore.open(path: location.storeFile, deviceId: deviceId, logger: quiet)
        self.store = store
        var index = 0
        while index < count {
            let chunk = min(10_000, count - index)
            try store.appendAll((index..<(index + chunk)).map(benchRating))
            index += chunk
        }

        // The benchmark profile: the hub's per-device rate limit lifted and batches 4x the
        // shipped default, because a drain is one device sending as fast as it can. With the
        // shipped settings (20 requests/s, 500 ratings a batch) a drain cannot beat 10,000/s.
        let storage = try SQLiteHubStorage(path: directory + "/hub/hub.db")
        self.storage = storage
        let hub = Hub(storage: storage, key: SigningKey(), logger: quiet)
        var settings = HubSettings()
        settings.port = 0
        settings.requestsPerSecond = 1_000_000
        settings.burst = 1_000_000
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(hub: hub, settings: settings, logger: quiet) { port in continuation.yield(port) }
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: quiet)
        self.group = group
        task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw BenchError("the hub did not start") }
        let url = "http://127.0.0.1:\(port)"

        let code = try await hub.addDevice(hall: "基准大厅", name: "1号窗口").code
        let enrollTransport = try HTTPHubTransport(baseURL: url, timeout: .seconds(30))
        let enrollment = try await Enrollment.enroll(location: location, deviceId: deviceId, hubURL: url, code: code,
                                                     transport: enrollTransport)
        await enrollTransport.shutdown()
        var push = PushSettings()
        push.batchRecords = ProcessInfo.processInfo.environment["PINGJIA_BENCH_BATCH"].flatMap { Int($0) } ?? 2_000
        push.batchBytes = 4 * 1024 * 1024 - 64 * 1024
        push.backoffBase = .milliseconds(10)
        push.backoffCap = .milliseconds(200)
        pusher = Pusher(store: store, key: try SigningKey.load(path: Enrollment.keyFile(location), create: false),
                        hubKey: PublicKey(base64: enrollment.hubPublicKey)!,
                        transport: try HTTPHubTransport(baseURL: url, timeout: .seconds(120), maxResponseBytes: 1 << 20),
                        settings: push, logger: quiet)
    }

    func drain() async throws {
        let step = await pusher!.drain(deadline: .now + .seconds(1_800))
        guard step == .idle else { throw BenchError("the drain ended with \(step)") }
        let state = try store!.syncState()
        guard state.ackedThroughSeq == UInt64(count) else {
            throw BenchError("only \(state.ackedThroughSeq) of \(count) ratings acknowledged")
        }
    }

    func stop() async {
        await pusher?.transport.shutdown()
        await group?.triggerGracefulShutdown()
        _ = await task?.result
        storage?.close()
        store?.close()
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }
}
let drainState = DrainState()

/// The press-commit loop again, while the push loop and the heartbeat talk to a hub that never
/// answers (a socket that accepts connections and reads nothing): their requests hang until
/// their timeouts, and the heartbeat looks for changes every 10 ms (100× the daemon's pace).
final class UnreachableHubState: @unchecked Sendable {
    private let append = PressState()
    private var socketFD: Int32 = -1
    private var pusher: Pusher?
    private var heartbeat: HeartbeatService?
    private var tasks: [Task<Void, Never>] = []

    func open() async throws {
        try append.open()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        socketFD = fd
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 64) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound, let store = append.kiosk?.store else { throw BenchError("cannot open the black-hole socket") }
        let url = "http://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        let key = SigningKey()
        let pusher = Pusher(store: store, key: key, hubKey: SigningKey().publicKey,
                            transport: try HTTPHubTransport(baseURL: url, timeout: .seconds(30)), settings: PushSettings(), logger: quiet)
        var settings = HeartbeatSettings()
        settings.interval = .seconds(1)
        settings.changePoll = .milliseconds(10)
        let heartbeat = HeartbeatService(store: store, key: key, hubKey: SigningKey().publicKey,
                                         transport: try HTTPHubTransport(baseURL: url, timeout: .seconds(10)), settings: settings,
                                         logger: quiet)
        self.pusher = pusher
        self.heartbeat = heartbeat
        tasks = [Task { await pusher.run() }, Task { try? await heartbeat.run() }]
        try await Task.sleep(for: .milliseconds(200))   // both have a request hanging on the socket
    }

    func commit() async throws { try await append.press() }

    func close() async {
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        await pusher?.transport.shutdown()
        await heartbeat?.transport.shutdown()
        if socketFD >= 0 { Foundation.close(socketFD) }
        append.close()
    }
}
let unreachableHubState = UnreachableHubState()

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaKiosk
import PingjiaWeb
import Synchronization
import Testing

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A real kiosk (state directory, SQLite store, roster) in a fresh temporary directory, with the
/// local web built exactly as pingjiad builds it, served over real HTTP on a loopback port.
final class WebKiosk: Sendable {
    let dir: URL
    let kiosk: KioskContext
    let sessions: SessionEngine
    let health: KioskHealth
    let metrics = MetricsExport()

    /// - Parameter sessionClock: the session engine's time; a frozen clock keeps 谢谢 and sessions
    ///   from expiring on a slow machine.
    /// - Parameter kioskClock: the time records are stamped with (the follow-up window is measured on it).
    init(config: String = "", sessionClock: any DeviceClock = SystemDeviceClock(),
         kioskClock: any DeviceClock = SystemDeviceClock()) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("PingjiaWebTests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(config.utf8).write(to: dir.appendingPathComponent("pingjia.toml"))
        let location = StateLocation(stateDirectory: dir.path, configFile: nil)
        kiosk = try KioskContext(location: location, create: true, logger: Logger(label: "test"), clock: kioskClock,
                                 metrics: metrics.kioskMetrics)
        _ = try kiosk.store.importRoster(
            staff: [Staff(id: "A1023", name: "张三", windowId: "W03"), Staff(id: "A1024", name: "李四", windowId: "W04")],
            windows: [ServiceWindow(id: "W03", name: "3号窗口"), ServiceWindow(id: "W04", name: "4号窗口")],
            replace: true)
        sessions = SessionEngine(settings: kiosk.config.sessions, clock: sessionClock)
        health = KioskHealth()
    }

    deinit {
        kiosk.close()
        try? FileManager.default.removeItem(at: dir)
    }

    /// Runs `body` against the app listening on a loopback port (HummingbirdTesting `.live`).
    func withServer(metrics withMetrics: Bool = true, phoneTokens: PhoneTokenIssuer? = nil,
                    _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var logger = Logger(label: "web-test")
        logger.logLevel = .warning
        var settings = WebSettings()
        settings.port = 0
        let app = buildApplication(WebContext(kiosk: kiosk, sessions: sessions, health: health, metrics: withMetrics ? metrics : nil,
                                                   phoneTokens: phoneTokens), settings: settings, logger: logger,
                                   heartbeat: .milliseconds(200))
        try await app.test(.live) { client in
            try await body(client)
            // Open event streams would hold the server at shutdown.
            self.sessions.finishSubscribers()
        }
    }
}

/// Session time that does not move.
struct FrozenClock: DeviceClock {
    func now() -> DeviceTime { DeviceTime(wallClock: "2026-11-24T10:00:00.000+08:00", monotonicNs: 1_000_000_000) }
}

/// Time the test moves by hand (timeouts, the follow-up window) instead of sleeping.
final class MovableClock: DeviceClock {
    private let ns = Mutex<UInt64>(1_000_000_000)

    func now() -> DeviceTime {
        DeviceTime(wallClock: "2026-11-24T10:00:00.000+08:00", monotonicNs: ns.withLock { $0 })
    }

    func advance(seconds: UInt64) { ns.withLock { $0 += seconds * 1_000_000_000 } }
}

extension TestClientProtocol {
    func post(_ uri: String, json: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json))
    }

    func get(_ uri: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .get)
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    var object: [String: Any] {
        get throws {
            guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                throw TestFailure("not a JSON object: \(text)")
            }
            return object
        }
    }
}

/// A raw HTTP/1.1 connection to the server, read on its own thread: server-sent events never end,
/// so a client that waits for the whole response cannot test them.
final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    private var received = Data()
    private let queue = DispatchQueue(label: "raw-connection")

    init(port: Int, request: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw TestFailure("cannot connect to 127.0.0.1:\(port): errno \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array(request.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { close(fd); throw TestFailure("cannot send the request") }
    }

    deinit { close(fd) }

    /// Everything received so far once it contains `text` `count` times; fails after `timeout`.
    func wait(for text: String, count: Int = 1, timeout: TimeInterval = 10) async throws -> String {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                let deadline = Date().addingTimeInterval(timeout)
                var buffer = [UInt8](repeating: 0, count: 4096)
                while Date() < deadline {
                    let text0 = String(decoding: received, as: UTF8.self)
                    if text0.components(separatedBy: text).count - 1 >= count { return continuation.resume(returning: text0) }
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n > 0 { received.append(contentsOf: buffer[0..<n]) } else if n == 0 { break }
                }
                continuation.resume(throwing: TestFailure("no \(count)× '\(text)' within \(timeout) s; got:\n\(String(decoding: received, as: UTF8.self))"))
            }
        }
    }
}

/// Finds `name` on PATH; a missing tool fails the test (never a skip), naming the package.
func tool(_ name: String, package: String) throws -> String {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw TestFailure("\(name) not found on PATH (Debian package \(package)): run `make deps`")
}

/// Runs a tool to completion; stdout as bytes.
func run(_ path: String, _ arguments: [String]) throws -> (status: Int32, out: Data) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, data)
}

import Foundation
import PingjiaHub
import PingjiaSyncProtocol
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The hub's HTTP side against hostile or broken clients: routes it does not have, clients that
/// stall. Real sockets on loopback.
@Suite struct HubHardeningTests {
    @Test func unknownRoutesAndWrongMethodsAreProblemDetailsWithoutInternals() async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir)
            try await hub.start()
            let missing = try await HubHTTPTests.send(hub, "GET", "/v1/nothing-here", body: nil)
            #expect(missing.status == 404)
            let problem = try #require(HubHTTPTests.problem(missing))
            #expect(problem.type == "not-found" && problem.status == 404)
            #expect(problem.detail.contains("/v1/nothing-here"))
            let wrongMethod = try await HubHTTPTests.send(hub, "GET", "/v1/enroll", body: nil)
            #expect(wrongMethod.status == 404 || wrongMethod.status == 405)
            #expect(HubHTTPTests.problem(wrongMethod)?.status == wrongMethod.status)
            for response in [missing, wrongMethod] {
                let text = String(decoding: response.body, as: UTF8.self)
                #expect(!text.contains(".swift") && !text.contains("Fatal") && !text.contains("Error("), "\(text)")
            }
            await hub.stop()
        }
    }

    @Test func aClientThatStallsMidRequestOrSendsNothingIsDisconnected() async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir)
            try await hub.start { $0.idleTimeoutSeconds = 1 }
            // Half a request: headers promise 100 bytes of body, two arrive, then nothing.
            let stalled = try LoopbackSocket(port: hub.port)
            stalled.send("POST /v1/enroll HTTP/1.1\r\nHost: hub\r\nContent-Length: 100\r\n\r\nab")
            let silent = try LoopbackSocket(port: hub.port)
            let started = Date()
            #expect(stalled.waitForClose(within: 10), "a stalled request kept its connection")
            #expect(silent.waitForClose(within: 10), "a silent connection was kept open")
            #expect(Date().timeIntervalSince(started) < 8)
            // The hub itself is fine afterwards.
            #expect(try await HubHTTPTests.send(hub, "GET", "/healthz", body: nil).status == 200)
            await hub.stop()
        }
    }
}

/// A plain TCP client, to behave in ways an HTTP client library will not.
final class LoopbackSocket {
    let fd: Int32

    /// `source`: the local address to connect from (any of 127.0.0.0/8 reaches loopback), so a
    /// test can play several clients.
    init(port: Int, source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw HarnessError("cannot bind to \(source): errno \(errno)") }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw HarnessError("cannot connect to 127.0.0.1:\(port): errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Sends one request with `Connection: close` and returns the response's status code.
    static func request(port: Int, from source: String, _ method: String, _ path: String, headers: [(String, String)] = [],
                        body: [UInt8] = []) throws -> Int {
        let connection = try LoopbackSocket(port: port, source: source)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: hub\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        connection.send(head + "\r\n" + String(decoding: body, as: UTF8.self))
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(connection.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(connection.fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let statusLine = String(decoding: response.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw HarnessError("no HTTP response from the hub") }
        return status
    }

    /// True when the peer closes the connection (read returns 0 or a reset) before `seconds` pass.
    func waitForClose(within seconds: Int) -> Bool {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 { return errno == ECONNRESET }
            // A response (e.g. 408) before the close is fine; keep reading until the close.
        }
    }
}

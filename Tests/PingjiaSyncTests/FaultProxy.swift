import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A fault-injecting HTTP proxy between a device and the hub, on loopback. Each request takes the
/// next fault from a queue (then `.pass` once the queue is empty), and every connection carries
/// one request, so a fault hits exactly one request.
final class FaultProxy: @unchecked Sendable {
    enum Fault: Sendable, CustomStringConvertible {
        case pass
        /// Close the device's connection without forwarding.
        case dropBeforeForwarding
        /// Forward (the hub commits), then close without answering: the receipt is lost.
        case dropAfterForwarding
        /// Answer with this status without forwarding.
        case status(Int)
        /// Hold the request this long, then forward it (the device has timed out by then).
        case stall(Duration)
        /// Forward, then send only half of the hub's response and close.
        case truncateResponse
        /// Forward the request twice; answer with the second response.
        case duplicate
        /// Forward, run `action` (e.g. restart the hub), then close without answering.
        case afterForwarding(@Sendable () async -> Void)

        var description: String {
            switch self {
            case .pass: "pass"
            case .dropBeforeForwarding: "drop before forwarding"
            case .dropAfterForwarding: "drop after forwarding"
            case .status(let code): "answer \(code)"
            case .stall(let time): "stall \(time)"
            case .truncateResponse: "truncate the response"
            case .duplicate: "duplicate the request"
            case .afterForwarding: "action after forwarding"
            }
        }
    }

    private let lock = NSLock()
    private var faults: [Fault] = []
    private var _upstreamPort: Int
    private var _alsoSendTo: [Int] = []
    private var _requests = 0
    private var inFlight = 0
    private var server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>?
    private(set) var port = 0

    /// With `tls`, the proxy speaks HTTPS to the device (a TLS-terminating front of the hub).
    private let tls: NIOSSLContext?

    init(upstreamPort: Int, tls: NIOSSLContext? = nil) {
        _upstreamPort = upstreamPort
        self.tls = tls
    }

    var upstreamPort: Int {
        get { lock.withLock { _upstreamPort } }
        set { lock.withLock { _upstreamPort = newValue } }
    }

    /// Further hub instances: every request (retries too) is sent to each of them and to
    /// `upstreamPort` at the same moment, and the device gets one of the answers at random, as
    /// from a load balancer that sprays requests over several hub instances.
    var alsoSendTo: [Int] {
        get { lock.withLock { _alsoSendTo } }
        set { lock.withLock { _alsoSendTo = newValue } }
    }

    var requests: Int { lock.withLock { _requests } }
    var pendingFaults: Int { lock.withLock { faults.count } }

    func inject(_ list: [Fault]) { lock.withLock { faults += list } }

    private func nextFault() -> Fault {
        lock.withLock {
            _requests += 1
            return faults.isEmpty ? .pass : faults.removeFirst()
        }
    }

    func start() async throws {
        let tls = self.tls
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        self.server = server
        port = server.channel.localAddress?.port ?? 0
        Task {
            try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        self.lock.withLock { self.inFlight += 1 }
                        group.addTask {
                            await self.serve(connection)
                            self.lock.withLock { self.inFlight -= 1 }
                        }
                    }
                }
            }
        }
    }

    func stop() async {
        try? await server?.channel.close()
    }

    /// Waits until no request is being handled (a stalled one included), at most `timeout`.
    func quiesce(timeout: Duration = .seconds(30)) async {
        let deadline = ContinuousClock.now + timeout
        while lock.withLock({ inFlight }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        try? await connection.executeThenClose { inbound, outbound in
            guard let request = try await Self.readRequest(inbound) else { return }
            let fault = nextFault()
            switch fault {
            case .pass:
                try await outbound.write(ByteBuffer(bytes: try await forward(request)))
            case .dropBeforeForwarding:
                return
            case .dropAfterForwarding:
                _ = try await forward(request)
            case .status(let code):
                let body = "{\"type\":\"proxy\",\"title\":\"Injected\",\"status\":\(code),\"detail\":\"injected by the test proxy\"}"
                let head = "HTTP/1.1 \(code) Injected\r\ncontent-type: application/problem+json\r\ncontent-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n"
                try await outbound.write(ByteBuffer(string: head + body))
            case .stall(let time):
                try await Task.sleep(for: time)
                let response = try await forward(request)
                try? await outbound.write(ByteBuffer(bytes: response))
            case .truncateResponse:
                let response = try await forward(request)
                try await outbound.write(ByteBuffer(bytes: response.prefix(max(1, response.count - max(1, Self.bodyLength(response) / 2)))))
            case .duplicate:
                _ = try await forward(request)
                try await outbound.write(ByteBuffer(bytes: try await forward(request)))
            case .afterForwarding(let action):
                _ = try? await forward(request)
                await action()
            }
        }
    }

    /// Sends one request to the hub (to every instance at once with `alsoSendTo`).
    private func forward(_ request: [UInt8]) async throws -> [UInt8] {
        let others = alsoSendTo
        guard !others.isEmpty else { return try await forward(request, to: upstreamPort) }
        let answers = await withTaskGroup(of: [UInt8]?.self) { group in
            for port in [upstreamPort] + others { group.addTask { try? await self.forward(request, to: port) } }
            var answers: [[UInt8]] = []
            for await answer in group { if let answer { answers.append(answer) } }
            return answers
        }
        guard let answer = answers.randomElement() else { throw ProxyError() }
        return answer
    }

    struct ProxyError: Error {}

    /// Sends one request to one hub on a fresh connection and reads the response to its end.
    private func forward(_ request: [UInt8], to port: Int) async throws -> [UInt8] {
        let upstream = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await upstream.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: Self.withConnectionClose(request)))
            var response: [UInt8] = []
            for try await chunk in inbound {
                response += Array(buffer: chunk)
                if Self.isComplete(response) { break }
            }
            return Self.withConnectionClose(response)
        }
    }

    // MARK: - Minimal HTTP/1.1 framing (Content-Length bodies only, which is all the two sides use)

    static func readRequest(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws -> [UInt8]? {
        var bytes: [UInt8] = []
        for try await chunk in inbound {
            bytes += Array(buffer: chunk)
            if isComplete(bytes) { return bytes }
        }
        return nil
    }

    static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    static func contentLength(_ head: String) -> Int {
        for line in head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                return Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        return 0
    }

    static func isComplete(_ bytes: [UInt8]) -> Bool {
        guard let end = headerEnd(bytes) else { return false }
        return bytes.count >= end + contentLength(String(decoding: bytes[..<end], as: UTF8.self))
    }

    static func bodyLength(_ bytes: [UInt8]) -> Int {
        guard let end = headerEnd(bytes) else { return 0 }
        return bytes.count - end
    }

    /// Replaces any Connection header with `connection: close`.
    static func withConnectionClose(_ message: [UInt8]) -> [UInt8] {
        guard let end = headerEnd(message) else { return message }
        let head = String(decoding: message[..<(end - 4)], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n").filter { !$0.lowercased().hasPrefix("connection:") }
        return Array((lines + ["connection: close"]).joined(separator: "\r\n").utf8) + [13, 10, 13, 10] + message[end...]
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL

/// An HTTP response as the sync code needs it.
public struct HubResponse: Sendable {
    public let status: Int
    public let body: [UInt8]
    /// The hub's `Date` header, for the clock offset shown by `pingjia sync status`.
    public let date: String?
    /// The hub's `Retry-After` (429, 503), in seconds: the push loop waits at least this long.
    public let retryAfter: Duration?

    public init(status: Int, body: [UInt8], date: String? = nil, retryAfter: Duration? = nil) {
        self.status = status
        self.body = body
        self.date = date
        self.retryAfter = retryAfter
    }
}

/// How the device talks to the hub. `HTTPHubTransport` is the real one; tests that need a hub
/// use a real hub over loopback, so this seam exists for unit tests of the push logic.
public protocol HubTransport: Sendable {
    func send(method: String, path: String, headers: [(String, String)], body: [UInt8]?) async throws -> HubResponse
    func shutdown() async
}

/// AsyncHTTPClient: async/await, connection pooling, and TLS through SwiftNIO SSL with our own
/// trust roots (a hall's CA, or the hub's certificate to pin it) independent of the system store.
public final class HTTPHubTransport: HubTransport {
    public let baseURL: String
    let client: HTTPClient
    let timeout: TimeAmount
    let maxResponseBytes: Int

    /// - Parameters:
    ///   - caBundle: PEM file whose certificates replace the system's CAs for HTTPS.
    ///   - timeout: for one whole request (connect, send, receive).
    public init(baseURL: String, caBundle: String? = nil, timeout: Duration = .seconds(30),
                maxResponseBytes: Int = 1 << 20) throws {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        var configuration = HTTPClient.Configuration()
        if let caBundle {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caBundle))
            configuration.tlsConfiguration = tls
        }
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(Int64(timeout.components.seconds)))
        // Never follow redirects: a batch goes to the hub it was meant for or nowhere.
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = .seconds(Int64(timeout.components.seconds))
        self.maxResponseBytes = maxResponseBytes
    }

    public func send(method: String, path: String, headers: [(String, String)], body: [UInt8]?) async throws -> HubResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method == "GET" ? .GET : .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: timeout)
        let collected = try await response.body.collect(upTo: maxResponseBytes)
        // Retry-After in seconds (the hub's form); an HTTP date from a proxy is ignored. At most an
        // hour, whatever a misconfigured proxy says.
        let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            .map { Duration.seconds(min(max($0, 0), 3600)) }
        return HubResponse(status: Int(response.status.code), body: Array(buffer: collected), date: response.headers.first(name: "Date"),
                           retryAfter: retryAfter)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }
}

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import PingjiaCore
import PingjiaSyncProtocol
import ServiceLifecycle

/// The hub's side of pull mode: for every active device with a pull URL, fetch signed batches
/// after the hub's head (`GET /v1/outbox`), ingest each exactly as a pushed batch (same checks,
/// same transaction, same idempotency), and send the receipt back (`POST /v1/outbox/ack`).
/// Requests are signed with the hub key (`PullAuth`). A `Service` in the hub's group.
public final class Puller: Service, Sendable {
    let hub: Hub
    let client: HTTPClient
    let interval: Duration
    let logger: Logger

    public init(hub: Hub, interval: Duration = .seconds(5), timeout: Duration = .seconds(30), logger: Logger) {
        self.hub = hub
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(Int64(timeout.components.seconds)))
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.pullAll()
                try? await Task.sleep(for: self.interval)
            }
        }
        try? await client.shutdown()
    }

    public func shutdown() async { try? await client.shutdown() }

    /// One round over every pull device; returns how many records were stored.
    @discardableResult
    public func pullAll() async -> Int {
        let devices = (try? await hub.storage.devices()) ?? []
        var stored = 0
        for device in devices where device.status == .active {
            guard let url = device.pullURL, let id = device.deviceId else { continue }
            do {
                stored += try await pull(deviceId: id, baseURL: url)
            } catch {
                logger.warning("pull failed; will retry", metadata: ["device": "\(id)", "error": "\(error)"])
            }
        }
        return stored
    }

    /// Fetches and stores until the device has nothing more (or `maxBatches`), then acknowledges.
    public func pull(deviceId: String, baseURL: String, maxBatches: Int = 1000) async throws -> Int {
        var stored = 0
        for _ in 0..<maxBatches {
            guard let head = try await hub.storage.device(id: deviceId)?.lastSeq else { return stored }
            let target = "/v1/outbox?after=\(head)&limit=500"
            let response = try await send("GET", baseURL: baseURL, target: target, body: nil)
            if response.status == 204 {
                // Nothing new: (re)send the receipt for the hub's head, in case the last ack was lost.
                try await acknowledge(deviceId: deviceId, baseURL: baseURL)
                return stored
            }
            guard response.status == 200 else {
                throw PullError("GET \(target) answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
            }
            guard let batch = try? JSONDecoder().decode(Batch.self, from: Data(response.body)) else {
                throw PullError("GET \(target): the answer is not a batch (\(response.body.count) bytes)")
            }
            switch await hub.ingest(deviceId: deviceId, idempotencyKey: batch.idempotencyKey, body: response.body) {
            case .success(let receipt):
                stored += Int(receipt.throughSeq - min(receipt.throughSeq, head))
                try await post(receipt, baseURL: baseURL)
            case .failure(let problem):
                throw PullError("the kiosk's batch was refused: \(problem)")
            }
        }
        return stored
    }

    private func acknowledge(deviceId: String, baseURL: String) async throws {
        guard let device = try await hub.storage.device(id: deviceId), device.lastSeq > 0, let head = ChainHash(hex: device.headHash) else { return }
        let receipt = Receipt(deviceId: deviceId, throughSeq: device.lastSeq, headHash: head,
                              receivedAt: device.lastBatchAt ?? WireTime.format(Date()), key: hub.key)
        try await post(receipt, baseURL: baseURL)
    }

    private func post(_ receipt: Receipt, baseURL: String) async throws {
        let response = try await send("POST", baseURL: baseURL, target: "/v1/outbox/ack", body: Array(try JSONEncoder().encode(receipt)))
        guard response.status == 200 else {
            throw PullError("POST /v1/outbox/ack answered \(response.status): \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
    }

    private func send(_ method: String, baseURL: String, target: String, body: [UInt8]?) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: (baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL) + target)
        request.method = method == "GET" ? .GET : .POST
        for (name, value) in PullAuth.headers(method: method, target: target, key: hub.key) { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 8 << 20)
        return (Int(response.status.code), Array(buffer: collected))
    }
}

public struct PullError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

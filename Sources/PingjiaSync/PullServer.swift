import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PingjiaCore
import PingjiaStore
import PingjiaSyncProtocol

/// Pull mode (`[sync] mode = "pull"`): where the hub can reach the kiosk but not the other way
/// round, the kiosk serves its outbox and the hub fetches it.
///
/// - `GET /v1/outbox?after=SEQ&limit=N`: the records after SEQ as a signed batch (`PJB1`, the
///   same bytes a push would send), or `204` when there are none.
/// - `POST /v1/outbox/ack`: the body is the hub's signed receipt; `acked_through_seq` advances
///   under exactly the rules of push mode.
///
/// Both require the hub's request signature (`PullAuth`); the ack is a receipt and so is signed
/// twice over. One `buildPullApplication` serves `pingjiad` and the tests.
public func buildPullApplication(store: KioskStore, key: SigningKey, hubKey: PublicKey, host: String, port: Int,
                                 batchRecords: Int, batchBytes: Int, servesOutbox: Bool = true, logger: Logger,
                                 onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
    let router = Router()
    let deviceId = store.deviceId

    router.get("/healthz") { _, _ -> Response in
        let state = try? store.syncState()
        let body = ["status": state?.deadLetterReason == nil ? "ok" : "dead-letter",
                    "ackedThroughSeq": "\(state?.ackedThroughSeq ?? 0)", "lastSeq": "\(state?.lastSeq ?? 0)",
                    "deadLetter": state?.deadLetterReason ?? ""]
        return pullJSON(state?.deadLetterReason == nil ? 200 : 503, body)
    }

    router.get("/v1/outbox") { request, _ -> Response in
        guard servesOutbox else { return pullProblem(notPullMode) }
        if let denied = pullDenied(request, hubKey: hubKey) { return denied }
        guard let after = UInt64(request.uri.queryParameters.get("after") ?? ""),
              let limit = Int(request.uri.queryParameters.get("limit") ?? "\(batchRecords)"), (1...5000).contains(limit) else {
            return pullProblem(Problem(type: Problem.Kind.malformed, title: "Bad query", status: 400,
                                       detail: "after must be a seq (integer ≥ 0) and limit 1-5000"))
        }
        let records: [RatingRecord]
        let sync: SyncState
        do {
            sync = try store.syncState()
            records = try store.records(after: after, limit: min(limit, batchRecords))
        } catch {
            return pullProblem(Problem(type: Problem.Kind.internalError, title: "Store error", status: 503, detail: "\(error)"))
        }
        if after < sync.prunedThroughSeq {
            return pullProblem(Problem(type: "pruned", title: "Already pruned", status: 410,
                                       detail: "this kiosk pruned its records through seq \(sync.prunedThroughSeq) after they were acknowledged"))
        }
        guard !records.isEmpty else { return Response(status: .noContent) }
        let batch = Batch(records: fitBatch(records, maxBytes: batchBytes), deviceId: deviceId, sentAt: DeviceTime.format(Date()), key: key)
        return pullJSON(200, batch)
    }

    router.post("/v1/outbox/ack") { request, _ -> Response in
        guard servesOutbox else { return pullProblem(notPullMode) }
        if let denied = pullDenied(request, hubKey: hubKey) { return denied }
        var request = request
        guard let body = try? await request.collectBody(upTo: 16_384),
              let receipt = try? JSONDecoder().decode(Receipt.self, from: Data(buffer: body)) else {
            return pullProblem(Problem(type: Problem.Kind.malformed, title: "Malformed ack", status: 400,
                                       detail: "the body must be the hub's receipt {deviceId, throughSeq, headHash, receivedAt, signature}"))
        }
        guard receipt.deviceId == deviceId, receipt.isSigned(by: hubKey), let head = ChainHash(hex: receipt.headHash) else {
            return pullProblem(Problem(type: Problem.Kind.badSignature, title: "Bad receipt", status: 401,
                                       detail: "the receipt is not this kiosk's or not signed by the enrolled hub key"))
        }
        let text = String(decoding: (try? JSONEncoder().encode(receipt)) ?? Data(), as: UTF8.self)
        let result: AcknowledgeResult
        do {
            // On the store's writer thread: the commit waits for fsync.
            result = try await store.writing { store in
                try store.acknowledge(throughSeq: receipt.throughSeq, headHash: head, receipt: text, at: WireTime.format(Date()))
            }
        } catch {
            return pullProblem(Problem(type: Problem.Kind.internalError, title: "Store error", status: 503, detail: "\(error)"))
        }
        switch result {
        case .advanced, .unchanged:
            return pullJSON(200, ["ackedThroughSeq": (try? store.syncState().ackedThroughSeq) ?? 0])
        case let .beyondHead(lastSeq):
            let reason = "the hub holds this kiosk's records through seq \(receipt.throughSeq), but the outbox ends at seq \(lastSeq): "
                + "the kiosk's database was rolled back or replaced; keep it and contact support"
            try? await store.writing { store in try store.setDeadLetter(reason: reason, at: WireTime.format(Date())) }
            logger.critical("ALARM: \(reason)")
            return pullProblem(Problem(type: Problem.Kind.conflict, title: "Receipt beyond the outbox", status: 409, detail: reason))
        case let .hashMismatch(seq, ours):
            let reason = "the hub's head hash at seq \(seq) is \(receipt.headHash), ours is \(ours): the chains differ"
            try? await store.writing { store in try store.setDeadLetter(reason: reason, at: WireTime.format(Date())) }
            logger.critical("ALARM: \(reason)")
            return pullProblem(Problem(type: Problem.Kind.conflict, title: "Receipt for another chain", status: 409, detail: reason))
        }
    }

    var configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: "pingjiad")
    configuration.reuseAddress = true
    return Application(router: router, configuration: configuration, onServerRunning: { channel in
        await onServerRunning(channel.localAddress?.port ?? port)
    }, logger: logger)
}

private let notPullMode = Problem(type: "not-pull-mode", title: "Not in pull mode", status: 404,
                                  detail: "this kiosk pushes its ratings ([sync] mode = \"push\")")

private func pullDenied(_ request: Request, hubKey: PublicKey) -> Response? {
    let reason = PullAuth.check(method: request.method.rawValue, target: request.uri.description,
                                date: request.headers[HTTPField.Name(PullAuth.dateHeader)!],
                                authorization: request.headers[.authorization], hubKey: hubKey)
    return reason.map { pullProblem(Problem(type: "unauthorized", title: "Unauthorized", status: 401, detail: $0)) }
}

private func pullJSON<T: Encodable>(_ status: Int, _ value: T) -> Response {
    let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
    return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

private func pullProblem(_ problem: Problem) -> Response {
    let data = (try? JSONEncoder().encode(problem)) ?? Data("{}".utf8)
    return Response(status: .init(code: problem.status), headers: [.contentType: "application/problem+json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

import Crypto
import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaSyncProtocol

/// The hub's logic, apart from HTTP: enrollment, batch verification and ingest. The HTTP layer
/// (`buildApplication`) only parses requests and maps outcomes to responses.
public final class Hub: Sendable {
    public let storage: any HubStorage
    public let key: SigningKey
    let logger: Logger
    let now: @Sendable () -> Date
    /// The scales the phone page offers (`HubScales.standard`).
    public let scales: ScaleCatalog

    public init(storage: any HubStorage, key: SigningKey, logger: Logger = Logger(label: "pingjia.hub"),
                now: @escaping @Sendable () -> Date = Date.init, scales: ScaleCatalog = HubScales.standard()) {
        self.storage = storage
        self.key = key
        self.logger = logger
        self.now = now
        self.scales = scales
    }

    // MARK: Enrollment

    /// Registers a device slot and returns its one-time enrollment code (shown once, stored hashed).
    public func addDevice(hall: String, name: String, validFor: TimeInterval = 24 * 3600) async throws(HubError) -> (slot: Int, code: String, expiresAt: Date) {
        guard !hall.isEmpty, !name.isEmpty else { throw .invalid("--hall and --name must not be empty") }
        let code = EnrollmentCode.make()
        let expires = now().addingTimeInterval(validFor)
        let slot = try await storage.addDevice(hall: hall, name: name, codeDigest: EnrollmentCode.digest(code), expiresAt: expires, now: now())
        return (slot, code, expires)
    }

    public func enroll(_ request: EnrollRequest) async throws(HubError) -> EnrollResponse {
        guard Identifier.isValidID(request.deviceId) else {
            throw .invalid("deviceId '\(request.deviceId)' must be \(Identifier.idRule)")
        }
        guard PublicKey(base64: request.publicKey) != nil else {
            throw .invalid("publicKey must be the base64 of a 32-byte Ed25519 public key")
        }
        guard let normalized = EnrollmentCode.normalize(request.code) else { throw .badCode }
        let entry = try await storage.enroll(codeDigest: EnrollmentCode.digest(normalized), deviceId: request.deviceId,
                                       publicKey: request.publicKey, now: now())
        logger.notice("device enrolled", metadata: ["device": "\(request.deviceId)", "hall": "\(entry.hall)", "name": "\(entry.name)"])
        return EnrollResponse(deviceId: request.deviceId, hall: entry.hall, name: entry.name, hubPublicKey: key.publicKey.base64)
    }

    /// The enrolled key of an active device, or the problem to answer with (unknown 404, revoked
    /// 403): every signed request of a device (batches, heartbeats, configuration) starts here.
    /// A storage failure is never an answer about the device: it is a 503 the device retries
    /// (a kiosk dead-letters on a definitive refusal, so a database outage must not look like one).
    func activeDeviceKey(_ deviceId: String) async -> Result<PublicKey, Problem> {
        let found: DeviceEntry?
        do { found = try await storage.device(id: deviceId) } catch {
            logger.error("device lookup failed", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            return .failure(.storageUnavailable("the hub cannot read its database right now; retry later"))
        }
        guard let device = found, let keyText = device.publicKey, let deviceKey = PublicKey(base64: keyText) else {
            return .failure(Problem(type: Problem.Kind.unknownDevice, title: "Unknown device", status: 404,
                                    detail: "no enrolled device '\(deviceId)' on this hub: enroll it with `pingjia enroll`"))
        }
        guard device.status == .active else {
            return .failure(Problem(type: Problem.Kind.revoked, title: "Device revoked", status: 403,
                                    detail: "device '\(deviceId)' was revoked on this hub; nothing more is accepted from it"))
        }
        return .success(deviceKey)
    }

    // MARK: Ingest

    /// Verifies and stores one batch. Returns the receipt, or a `Problem` saying what to do.
    public func ingest(deviceId: String, idempotencyKey: String?, body: [UInt8]) async -> Result<Receipt, Problem> {
        switch await verifyBatch(deviceId: deviceId, idempotencyKey: idempotencyKey, body: body) {
        case .success(let verified): await store(verified)
        case .failure(let problem): .failure(problem)
        }
    }

    /// The checks that need no write: the device is enrolled and active, the body is a batch
    /// signed by its key, and the batch's own chain holds. A success authenticates the request
    /// (the HTTP side charges the device's rate limit only then).
    public func verifyBatch(deviceId: String, idempotencyKey: String?, body: [UInt8]) async -> Result<VerifiedBatch, Problem> {
        let deviceKey: PublicKey
        switch await activeDeviceKey(deviceId) {
        case .success(let key): deviceKey = key
        case .failure(let problem): return .failure(problem)
        }
        guard let idempotencyKey, !idempotencyKey.isEmpty, idempotencyKey.utf8.count <= 128 else {
            return .failure(Problem(type: Problem.Kind.malformed, title: "Missing Idempotency-Key", status: 400,
                                    detail: "the Idempotency-Key header (1-128 characters) is required on every batch"))
        }
        let batch: Batch
        do {
            batch = try JSONDecoder().decode(Batch.self, from: Data(body))
        } catch {
            return .failure(Problem(type: Problem.Kind.malformed, title: "Malformed batch", status: 400,
                                    detail: "the body is not a batch: \(Self.describe(error))"))
        }
        guard batch.deviceId == deviceId else {
            return .failure(Problem(type: Problem.Kind.malformed, title: "Malformed batch", status: 400,
                                    detail: "the batch is for device '\(batch.deviceId)' but was posted to '\(deviceId)'"))
        }
        let records: [RatingRecord]
        switch batch.verify(with: deviceKey) {
        case .success(let verified):
            records = verified
        case .failure(.badSignature):
            logger.warning("batch with a bad signature", metadata: ["device": "\(deviceId)"])
            return .failure(Problem(type: Problem.Kind.badSignature, title: "Bad signature", status: 401,
                                    detail: BatchProblem.badSignature.description))
        case .failure(.malformed(let reason)):
            return .failure(Problem(type: Problem.Kind.malformed, title: "Malformed batch", status: 400, detail: reason))
        case .failure(let problem):
            // Correctly signed yet internally broken: the device's own store is damaged or was
            // tampered with after signing. Worth an alarm, not only a refusal.
            if case let .chainBroken(seq, _) = problem {
                try? await storage.raiseAlarm(NewAlarm(deviceId: deviceId, kind: .chainBroken, seq: seq, detail: problem.description),
                                              at: now())
            }
            logger.error("ALARM: batch refused, broken chain", metadata: ["device": "\(deviceId)", "problem": "\(problem)"])
            return .failure(Problem(type: Problem.Kind.chainBroken, title: "Broken chain", status: 422, detail: problem.description))
        }
        let receivedAt = now()
        let offset = WireTime.parse(batch.sentAt).map { Int64(($0.timeIntervalSince(receivedAt) * 1000).rounded()) }
        return .success(VerifiedBatch(deviceId: deviceId, idempotencyKey: idempotencyKey,
                                      requestDigest: batch.segmentDigest, fromSeq: batch.fromSeq,
                                      prevHash: ChainHash(hex: batch.prevHash) ?? .genesis, records: records,
                                      receivedAt: receivedAt, clockOffsetMs: offset))
    }

    /// Judges a verified batch against what the hub holds and stores what is new (one transaction).
    public func store(_ verified: VerifiedBatch) async -> Result<Receipt, Problem> {
        let deviceId = verified.deviceId, idempotencyKey = verified.idempotencyKey
        let fromSeq = verified.fromSeq, toSeq = fromSeq + UInt64(max(verified.records.count, 1)) - 1
        let outcome: IngestOutcome
        do {
            let key = self.key
            outcome = try await storage.ingest(verified) { seq, head, at in
                Receipt(deviceId: deviceId, throughSeq: seq, headHash: head, receivedAt: at, key: key)
            }
        } catch {
            logger.error("ingest failed", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            return .failure(.storageUnavailable("the hub could not store the batch; retry later"))
        }
        switch outcome {
        case let .accepted(receipt, newRecords):
            logger.debug("batch stored", metadata: ["device": "\(deviceId)", "from": "\(fromSeq)", "to": "\(toSeq)",
                                                    "new": "\(newRecords)"])
            return .success(receipt)
        case let .replayed(receipt):
            return .success(receipt)
        case let .gap(expected):
            return .failure(Problem(type: Problem.Kind.gap, title: "Gap in the chain", status: 409,
                                    detail: "the batch starts at seq \(fromSeq) but the hub expects seq \(expected): resend from there",
                                    expectedSeq: expected))
        case let .conflict(seq, detail):
            logger.critical("ALARM: a seq the hub holds arrived with another hash", metadata: ["device": "\(deviceId)", "seq": "\(seq)",
                                                                                              "detail": "\(detail)"])
            return .failure(Problem(type: Problem.Kind.conflict, title: "Conflicting record", status: 409, detail: detail))
        case .idempotencyKeyReused:
            return .failure(Problem(type: Problem.Kind.idempotencyMismatch, title: "Idempotency-Key reused", status: 422,
                                    detail: "Idempotency-Key '\(idempotencyKey)' was used before with a different body"))
        }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case let DecodingError.keyNotFound(key, context):
            "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        case let DecodingError.dataCorrupted(context):
            "not valid JSON at '\(context.codingPath.map(\.stringValue).joined(separator: "."))': \(context.debugDescription)"
        default:
            "\(error)"
        }
    }
}

/// One-time enrollment codes: 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L),
/// shown as `ABCD-EFGH`, typed case-insensitively with or without the dash. 31⁸ ≈ 8.5·10¹¹
/// possibilities, single use, expiring, stored only as a SHA-256 digest.
public enum EnrollmentCode {
    static let alphabet = Array("23456789ABCDEFGHJKMNPQRSTUVWXYZ")

    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let characters = (0..<8).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] }
        return String(characters[0..<4]) + "-" + String(characters[4..<8])
    }

    /// The code as stored: uppercase, dash and spaces removed; nil when it cannot be a code.
    public static func normalize(_ text: String) -> String? {
        let cleaned = text.uppercased().filter { $0 != "-" && $0 != " " }
        guard cleaned.count == 8, cleaned.allSatisfy(alphabet.contains) else { return nil }
        return String(cleaned.prefix(4)) + "-" + String(cleaned.suffix(4))
    }

    static func digest(_ code: String) -> [UInt8] {
        Array(SHA256.hash(data: Array((normalize(code) ?? code).utf8)))
    }
}

extension Problem {
    /// The hub's database failed (down, locked, unreachable): never an answer about the device.
    /// `503` with `Retry-After` (`problem(_:)` adds it); the device retries with backoff.
    static func storageUnavailable(_ detail: String) -> Problem {
        Problem(type: Problem.Kind.internalError, title: "Storage unavailable", status: 503, detail: detail)
    }
}

import Crypto
import Foundation
import PingjiaCore

/// A signed batch of consecutive records, `POST /v1/devices/{deviceId}/batches` (docs/sync-protocol.md).
public struct Batch: Codable, Sendable, Equatable {
    public static let formatTag = "PJB1"

    public var format: String
    public var deviceId: String
    public var fromSeq: UInt64
    public var toSeq: UInt64
    /// `prevHash` of record `fromSeq`: where this segment joins the chain the hub already holds.
    public var prevHash: String
    /// `hash` of record `toSeq`.
    public var headHash: String
    /// The device's wall clock when it signed; the hub derives the device's clock offset from it.
    public var sentAt: String
    public var records: [WireRecord]
    /// Ed25519 over `SignatureInput.batch`, base64.
    public var signature: String

    /// Builds and signs a batch of consecutive records (at least one).
    public init(records: [RatingRecord], deviceId: String, sentAt: String, key: SigningKey) {
        precondition(!records.isEmpty, "a batch holds at least one record")
        format = Batch.formatTag
        self.deviceId = deviceId
        fromSeq = records[0].seq
        toSeq = records[records.count - 1].seq
        prevHash = records[0].prevHash.hex
        headHash = records[records.count - 1].hash.hex
        self.sentAt = sentAt
        self.records = records.map(WireRecord.init)
        signature = ""
        signature = key.sign(signatureInput ?? [])
    }

    /// The bytes the signature covers, or nil when a hash field is not 64 hex digits.
    public var signatureInput: [UInt8]? {
        guard let prev = ChainHash(hex: prevHash), let head = ChainHash(hex: headHash) else { return nil }
        return SignatureInput.batch(deviceId: deviceId, fromSeq: fromSeq, toSeq: toSeq, prevHash: prev,
                                    headHash: head, sentAt: sentAt)
    }

    /// Identifies the chain segment the batch carries, whatever its `sentAt` and signature:
    /// SHA-256 over "PJB1-SEG", deviceId, fromSeq, toSeq, prevHash, headHash.
    public var segmentDigest: [UInt8] {
        var input = Array("PJB1-SEG".utf8)
        SignatureInput.append(deviceId, &input)
        SignatureInput.append(fromSeq, &input)
        SignatureInput.append(toSeq, &input)
        input += Array(prevHash.utf8)
        input += Array(headHash.utf8)
        return ChainHash.of(input).bytes
    }

    /// The Idempotency-Key the device sends with this batch: derived from the segment, so the same
    /// records retried (even after a restart, with a new `sentAt`) carry the same key.
    public var idempotencyKey: String {
        String(ChainHash.of(segmentDigest).hex.prefix(32))
    }

    /// Checks everything that needs no knowledge of the hub's state: format, signature, and that
    /// the records form an unbroken chain from `prevHash` to `headHash` with each hash recomputed.
    public func verify(with key: PublicKey) -> Result<[RatingRecord], BatchProblem> {
        guard format == Batch.formatTag else {
            return .failure(.malformed("format is '\(format)'; this hub reads \(Batch.formatTag)"))
        }
        guard let input = signatureInput, let prev = ChainHash(hex: prevHash), let head = ChainHash(hex: headHash) else {
            return .failure(.malformed("prevHash and headHash must be 64 hex digits"))
        }
        guard key.isValid(signature: signature, for: input) else { return .failure(.badSignature) }
        guard !records.isEmpty, fromSeq >= 1, toSeq >= fromSeq, toSeq - fromSeq + 1 == UInt64(records.count) else {
            return .failure(.malformed("fromSeq \(fromSeq)…toSeq \(toSeq) does not match \(records.count) records"))
        }
        var previous = prev
        var result: [RatingRecord] = []
        result.reserveCapacity(records.count)
        for (offset, wire) in records.enumerated() {
            let expected = fromSeq + UInt64(offset)
            guard wire.seq == expected else {
                return .failure(.chainBroken(seq: expected, reason: "seq \(expected) is missing; the batch has \(wire.seq) in its place"))
            }
            guard wire.deviceId == deviceId else {
                return .failure(.chainBroken(seq: wire.seq, reason: "record belongs to device '\(wire.deviceId)'"))
            }
            let record: RatingRecord
            switch wire.record() {
            case .success(let rebuilt): record = rebuilt
            case .failure(let problem): return .failure(.malformed(problem.description))
            }
            guard record.prevHash == previous else {
                return .failure(.chainBroken(seq: wire.seq, reason: "prevHash is not the hash of seq \(wire.seq - 1)"))
            }
            guard record.hashMatchesContent else {
                return .failure(.chainBroken(seq: wire.seq, reason: "the fields do not hash to the stated hash (altered after signing)"))
            }
            previous = record.hash
            result.append(record)
        }
        guard previous == head else {
            return .failure(.chainBroken(seq: toSeq, reason: "the last record's hash is not the signed headHash"))
        }
        return .success(result)
    }
}

public enum BatchProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case badSignature
    case chainBroken(seq: UInt64, reason: String)

    public var description: String {
        switch self {
        case let .malformed(reason): "malformed batch: \(reason)"
        case .badSignature: "the batch signature does not verify with this device's enrolled key"
        case let .chainBroken(seq, reason): "chain broken at seq \(seq): \(reason)"
        }
    }
}

/// The hub's signed acknowledgement: it holds the device's chain through `throughSeq`.
public struct Receipt: Codable, Sendable, Equatable {
    public var deviceId: String
    public var throughSeq: UInt64
    public var headHash: String
    /// The hub's clock when it committed the batch (ISO 8601, UTC).
    public var receivedAt: String
    public var signature: String

    public init(deviceId: String, throughSeq: UInt64, headHash: ChainHash, receivedAt: String, key: SigningKey) {
        self.deviceId = deviceId
        self.throughSeq = throughSeq
        self.headHash = headHash.hex
        self.receivedAt = receivedAt
        signature = key.sign(SignatureInput.receipt(deviceId: deviceId, throughSeq: throughSeq, headHash: headHash,
                                                    receivedAt: receivedAt))
    }

    /// True when the hub's key signed exactly these fields.
    public func isSigned(by key: PublicKey) -> Bool {
        guard let head = ChainHash(hex: headHash) else { return false }
        return key.isValid(signature: signature, for: SignatureInput.receipt(deviceId: deviceId, throughSeq: throughSeq,
                                                                              headHash: head, receivedAt: receivedAt))
    }
}

/// `POST /v1/enroll`: a device registers its public key with a one-time code.
public struct EnrollRequest: Codable, Sendable, Equatable {
    public var code: String
    public var deviceId: String
    public var publicKey: String

    public init(code: String, deviceId: String, publicKey: String) {
        self.code = code
        self.deviceId = deviceId
        self.publicKey = publicKey
    }
}

public struct EnrollResponse: Codable, Sendable, Equatable {
    public var deviceId: String
    public var hall: String
    public var name: String
    /// The key that signs receipts; the device keeps it and accepts no receipt without it.
    public var hubPublicKey: String
    /// The link of the hub's phone page as phones reach it, `https://HUB/r/{deviceId}/{staffId}`
    /// (`pingjia-hub serve --public-url`): the kiosk's QR codes default to it. Absent when the
    /// hub's operator has not set a public URL (or from a hub older than this field).
    public var qrURLTemplate: String?

    public init(deviceId: String, hall: String, name: String, hubPublicKey: String, qrURLTemplate: String? = nil) {
        self.deviceId = deviceId
        self.hall = hall
        self.name = name
        self.hubPublicKey = hubPublicKey
        self.qrURLTemplate = qrURLTemplate
    }
}

/// An error body, RFC 9457 "problem details" (`application/problem+json`). `type` is a stable
/// token the device acts on; `detail` says what and where for a person.
public struct Problem: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String
    /// For `gap`: the seq the hub expects next, so the device resends from there.
    public var expectedSeq: UInt64?

    public init(type: String, title: String, status: Int, detail: String, expectedSeq: UInt64? = nil) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.expectedSeq = expectedSeq
    }

    public var description: String { "\(status) \(type): \(detail)" }

    /// The `type` tokens (docs/sync-protocol.md).
    public enum Kind {
        public static let malformed = "malformed"
        public static let tooLarge = "too-large"
        public static let badSignature = "bad-signature"
        public static let chainBroken = "chain-broken"
        public static let gap = "gap"
        public static let conflict = "seq-conflict"
        public static let unknownDevice = "unknown-device"
        public static let revoked = "revoked"
        public static let rateLimited = "rate-limited"
        public static let idempotencyMismatch = "idempotency-key-reused"
        public static let badCode = "bad-enrollment-code"
        public static let internalError = "internal"
    }
}

public enum WireTime {
    /// Hub timestamps: ISO 8601 UTC with milliseconds.
    public static func format(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Reads a device or hub timestamp (with milliseconds and any offset).
    public static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}

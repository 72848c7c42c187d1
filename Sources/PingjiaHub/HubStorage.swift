import Foundation
import PingjiaCore
@_exported import PingjiaHubCore
import PingjiaSyncProtocol

/// Where the hub keeps devices, records, batches and alarms. SQLite (`SQLiteHubStorage`) is the
/// embedded default; a PostgreSQL backend implements the same protocol. Each method is one
/// transaction; `ingest` in particular judges and stores a whole batch atomically. Async, as a
/// network database needs; SQLite's calls run to completion on the calling thread.
public protocol HubStorage: Sendable, PhoneRatingStorage, CaseStorage, FleetStorage, RemoteConfigStorage {
    /// Registers a device slot awaiting enrollment with the hash of its one-time code.
    func addDevice(hall: String, name: String, codeDigest: [UInt8], expiresAt: Date, now: Date) async throws(HubError) -> Int
    /// Consumes a one-time code: binds `deviceId` and its public key to the slot.
    func enroll(codeDigest: [UInt8], deviceId: String, publicKey: String, now: Date) async throws(HubError) -> DeviceEntry
    func revoke(deviceId: String, now: Date) async throws(HubError) -> DeviceEntry
    /// Puts a device in pull mode (the hub fetches from `url`), or back to push with nil.
    func setPullURL(deviceId: String, url: String?) async throws(HubError)
    func devices() async throws(HubError) -> [DeviceEntry]
    func device(id: String) async throws(HubError) -> DeviceEntry?
    /// Judges a batch whose signature and inner chain are already verified against what the hub
    /// holds (`IngestRules.judge`), and stores what is new, in one transaction that locks the
    /// device. `sign` makes the receipt inside it.
    func ingest(_ batch: VerifiedBatch, sign: @Sendable (UInt64, ChainHash, String) -> Receipt) async throws(HubError) -> IngestOutcome
    /// Every stored (seq, hash) of a device, in seq order.
    func chain(deviceId: String) async throws(HubError) -> [(seq: UInt64, hash: ChainHash)]
    /// Recomputes every stored record's hash and the links between them.
    func verifyChain(deviceId: String) async throws(HubError) -> ChainVerification
    func alarms() async throws(HubError) -> [Alarm]
    /// Records an alarm found outside `ingest` (a correctly signed batch whose own chain is broken).
    func raiseAlarm(_ alarm: NewAlarm, at: Date) async throws(HubError)
    /// Export feed: records after `cursor`, in the order they were received.
    func exportRecords(after cursor: Int64, limit: Int) async throws(HubError) -> [ExportedRecord]
    func exportCursor(consumer: String) async throws(HubError) -> Int64
    func acknowledgeExport(consumer: String, through cursor: Int64) async throws(HubError)
    /// Releases the connections; the storage is not used afterwards.
    func close() async
}

public struct DeviceEntry: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable { case pending, active, revoked }
    public let slot: Int
    public let hall: String
    public let name: String
    public let deviceId: String?
    public let publicKey: String?
    public let status: Status
    public let createdAt: String
    public let codeExpiresAt: String?
    public let lastSeq: UInt64
    public let headHash: String
    /// Device clock minus hub clock at the last batch, in milliseconds.
    public let clockOffsetMs: Int64?
    public let lastBatchAt: String?
    /// Set for a device in pull mode: the base URL of its sync endpoints.
    public let pullURL: String?
}

public enum ChainVerification: Sendable, Equatable {
    case intact(count: Int, lastSeq: UInt64)
    case broken(seq: UInt64, reason: String)
}

/// Walks a device's stored records in seq order, as each backend reads them: numbered from 1
/// without a hole, each linked to the one before, each hash the hash of its fields.
struct ChainWalk {
    private var expected: UInt64 = 1
    private var previous = ChainHash.genesis
    private var count = 0

    /// Nil while the chain holds; the verdict at the first break (`record` nil: unreadable).
    mutating func next(_ record: RatingRecord?) -> ChainVerification? {
        guard let record else { return .broken(seq: expected, reason: "a stored field is unreadable") }
        if record.seq != expected { return .broken(seq: expected, reason: "missing: the chain jumps to \(record.seq)") }
        if record.prevHash != previous { return .broken(seq: record.seq, reason: "prevHash does not match seq \(record.seq - 1)") }
        if !record.hashMatchesContent { return .broken(seq: record.seq, reason: "fields do not match the hash") }
        previous = record.hash
        expected += 1
        count += 1
        return nil
    }

    var intact: ChainVerification { .intact(count: count, lastSeq: expected - 1) }
}

public struct ExportedRecord: Sendable, Equatable {
    public let cursor: Int64
    public let record: RatingRecord
    public let receivedAt: String
}

public enum HubError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case database(operation: String, reason: String)
    case badCode
    case unknownDevice(String)
    case alreadyEnrolled(String)
    case invalid(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            "cannot open the hub database \(path): \(reason). Check that its directory exists and is writable"
        case let .database(operation, reason): "hub database error while \(operation): \(reason)"
        case .badCode:
            "the enrollment code is unknown, already used or expired: ask the hub operator for a new one (`pingjia-hub devices add`)"
        case let .unknownDevice(id): "no enrolled device '\(id)': see `pingjia-hub devices list`"
        case let .alreadyEnrolled(id):
            "device '\(id)' is already enrolled on this hub; to replace its key, revoke it first (`pingjia-hub devices revoke \(id)`)"
        case let .invalid(reason): reason
        }
    }
}

import Foundation
import PingjiaCore
@testable import PingjiaHub
import PingjiaSyncProtocol

/// A device of a hall whose records go straight into a hub's storage through `ingest`, as a
/// verified batch would: the case and report tests need exact records, not a kiosk.
struct StoredDevice {
    let deviceId: String
    private(set) var last: RatingRecord?

    static func make(_ storage: any HubStorage, hall: String, id: String) async throws -> StoredDevice {
        let digest = (0..<32).map { _ in UInt8.random(in: .min ... .max) }
        _ = try await storage.addDevice(hall: hall, name: id, codeDigest: digest, expiresAt: Date().addingTimeInterval(3600), now: Date())
        _ = try await storage.enroll(codeDigest: digest, deviceId: id, publicKey: SigningKey().publicKey.base64, now: Date())
        return StoredDevice(deviceId: id)
    }

    /// Appends ratings to the device's chain and ingests them in one batch; returns the records.
    @discardableResult
    mutating func store(_ ratings: [NewRating], in storage: any HubStorage, receivedAt: Date = Date()) async throws -> [RatingRecord] {
        let deviceId = self.deviceId
        var previous = last?.hash ?? .genesis
        var seq = last?.seq ?? 0
        let records = ratings.map { rating -> RatingRecord in
            seq += 1
            let record = RatingRecord(seq: seq, deviceId: deviceId, rating: rating, prevHash: previous)
            previous = record.hash
            return record
        }
        guard let first = records.first else { return [] }
        let key = SigningKey()
        let batch = VerifiedBatch(deviceId: deviceId, idempotencyKey: UUID().uuidString, requestDigest: (0..<32).map { _ in .random(in: .min ... .max) },
                                  fromSeq: first.seq, prevHash: first.prevHash, records: records, receivedAt: receivedAt, clockOffsetMs: nil)
        let outcome = try await storage.ingest(batch) { seq, head, at in
            Receipt(deviceId: deviceId, throughSeq: seq, headHash: head, receivedAt: at, key: key)
        }
        guard case .accepted = outcome else { throw HarnessError("ingest of \(records.count) records: \(outcome)") }
        last = records.last
        return records
    }

    /// A rating (code 1-5) or, with code nil, an 未评价 event.
    static func rating(code: Int?, staff: String = "A1001", window: String = "3", matter: String? = "M1", at: String,
                       flags: Set<RatingFlag> = []) -> NewRating {
        guard let code else {
            return NewRating(kind: .unrated, staffId: staff, windowId: window, matterCode: matter, channel: .keypad, scale: "five",
                             level: 0, code: nil, ratedAt: at, monotonicNs: 1, flags: flags)
        }
        return NewRating(staffId: staff, windowId: window, matterCode: matter, channel: .keypad, scale: "five", level: code,
                         code: SatisfactionCode(rawValue: code), reasons: code >= 4 ? ["slow"] : [], comment: code >= 4 ? "等了很久" : nil,
                         ratedAt: at, monotonicNs: 1, flags: flags)
    }
}

/// Admin users for tests: hashed with few rounds, so a test does not spend seconds per login.
func addTestUser(_ storage: any HubStorage, _ name: String, role: AdminUserRecord.Role, hall: String?, password: String) async throws {
    try await storage.addUser(AdminUserRecord(name: name, role: role, hall: hall, passwordHash: try AdminPassword.hash(password, rounds: 1000)),
                              now: Date())
}

/// A clock tests move by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) { current = start }

    var now: Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    func advance(_ seconds: TimeInterval) {
        lock.lock()
        current = current.addingTimeInterval(seconds)
        lock.unlock()
    }

    func set(_ date: Date) {
        lock.lock()
        current = date
        lock.unlock()
    }
}

/// A date from local (Asia/Shanghai) wall time, "2026-09-30 10:00".
func shanghai(_ text: String) -> Date {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
    formatter.dateFormat = "yyyy-MM-dd HH:mm"
    return formatter.date(from: text)!
}

let testWorkflowConfig = """
    [deadlines]
    pending = 3
    verified = 7
    rectified = 3
    visited = 2
    appeal = 5

    [calendar]
    holidays = ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]
    workdays = ["2026-09-27", "2026-10-10"]
    """

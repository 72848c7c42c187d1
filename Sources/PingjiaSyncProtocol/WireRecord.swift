import Foundation
import PingjiaCore

/// One record as it travels in a batch (docs/sync-protocol.md). Every field of the canonical
/// encoding is here, so the receiver recomputes `hash` itself instead of trusting it.
///
/// `kind` and `refersTo` are absent for a rating (so a rating's JSON is what it always was, and
/// an older hub or device reads it unchanged); `kind` is present for every other kind.
public struct WireRecord: Codable, Sendable, Hashable {
    public var seq: UInt64
    public var id: String
    /// Nil means `rating`.
    public var kind: String?
    public var refersTo: String?
    public var deviceId: String
    public var staffId: String?
    public var windowId: String?
    public var matterCode: String?
    public var caseNo: String?
    public var channel: String
    public var scale: String
    public var level: Int
    public var code: Int
    public var reasons: [String]
    public var comment: String?
    public var ratedAt: String
    public var monotonicNs: UInt64
    public var flags: [String]
    public var prevHash: String
    public var hash: String

    public init(_ record: RatingRecord) {
        let rating = record.rating
        seq = record.seq
        id = rating.id.uuidString.lowercased()
        kind = rating.kind == .rating ? nil : rating.kind.rawValue
        refersTo = rating.refersTo?.uuidString.lowercased()
        deviceId = record.deviceId
        staffId = rating.staffId
        windowId = rating.windowId
        matterCode = rating.matterCode
        caseNo = rating.caseNo
        channel = rating.channel.rawValue
        scale = rating.scale
        level = rating.level
        code = rating.code?.rawValue ?? 0
        reasons = rating.reasons
        comment = rating.comment
        ratedAt = rating.ratedAt
        monotonicNs = rating.monotonicNs
        flags = rating.flags.map(\.rawValue).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        prevHash = record.prevHash.hex
        hash = record.hash.hex
    }

    /// Rebuilds the record with the hash as sent; `problem` names the first field that is unusable.
    public func record() -> Result<RatingRecord, WireProblem> {
        func fail(_ field: String, _ reason: String) -> Result<RatingRecord, WireProblem> {
            .failure(WireProblem(seq: seq, field: field, reason: reason))
        }
        guard let uuid = UUID(uuidString: id), uuid.uuidString.lowercased() == id else {
            return fail("id", "'\(id)' is not a lowercase UUID")
        }
        guard let channel = RatingChannel(rawValue: channel) else {
            return fail("channel", "'\(channel)' is not one of keypad, touch, qr")
        }
        guard let kind = kind.map(RecordKind.init(rawValue:)) ?? .rating else {
            return fail("kind", "'\(kind ?? "")' is not one of rating, unrated, reasons")
        }
        var target: UUID?
        if let refersTo {
            guard let uuid = UUID(uuidString: refersTo), uuid.uuidString.lowercased() == refersTo else {
                return fail("refersTo", "'\(refersTo)' is not a lowercase UUID")
            }
            target = uuid
        }
        guard (kind == .reasons) == (target != nil) else {
            return fail("refersTo", kind == .reasons ? "a reasons record names the rating it follows" : "only a reasons record refers to another")
        }
        let satisfaction: SatisfactionCode?
        if kind == .unrated {
            guard level == 0 else { return fail("level", "an unrated record has level 0, not \(level)") }
            guard code == 0 else { return fail("code", "an unrated record has code 0, not \(code)") }
            satisfaction = nil
        } else {
            guard (1...255).contains(level) else { return fail("level", "\(level) is outside 1-255") }
            guard let code = SatisfactionCode(rawValue: code) else { return fail("code", "\(code) is not a GB/T 39046 code 1-5") }
            satisfaction = code
        }
        guard let prev = ChainHash(hex: prevHash) else { return fail("prevHash", "not 64 hex digits") }
        guard let stated = ChainHash(hex: hash) else { return fail("hash", "not 64 hex digits") }
        guard Set(flags).count == flags.count else { return fail("flags", "a flag appears twice") }
        let rating = NewRating(id: uuid, kind: kind, refersTo: target, staffId: staffId, windowId: windowId,
                               matterCode: matterCode, caseNo: caseNo,
                               channel: channel, scale: scale, level: level, code: satisfaction, reasons: reasons,
                               comment: comment, ratedAt: ratedAt, monotonicNs: monotonicNs,
                               flags: Set(flags.map(RatingFlag.init(rawValue:))))
        return .success(RatingRecord(seq: seq, deviceId: deviceId, rating: rating, prevHash: prev, storedHash: stated))
    }
}

/// What is wrong with one record of a batch, and where.
public struct WireProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let seq: UInt64
    public let field: String
    public let reason: String

    public init(seq: UInt64, field: String, reason: String) {
        self.seq = seq
        self.field = field
        self.reason = reason
    }

    public var description: String { "record seq \(seq), field \(field): \(reason)" }
}

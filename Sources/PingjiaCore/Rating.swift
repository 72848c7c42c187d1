import Foundation

/// How the citizen gave the rating.
public enum RatingChannel: String, Sendable, Hashable, Codable, CaseIterable {
    case keypad
    case touch
    case qr
}

/// Marks a rating that is kept but counted apart from the statistics (DESIGN.md: never dropped).
public struct RatingFlag: RawRepresentable, Sendable, Hashable, Codable, Comparable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// An installer's test rating (`pingjia rate`): reports exclude it.
    public static let test = RatingFlag(rawValue: "test")
    /// Pressed faster than a person can, e.g. a key held down.
    public static let suspectBurst = RatingFlag(rawValue: "suspect-burst")
    /// Pressed while no transaction was open at the window.
    public static let unarmed = RatingFlag(rawValue: "unarmed")
    /// A second press in a session that was already rated (一次一评: only the first counts).
    public static let `repeat` = RatingFlag(rawValue: "repeat")

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// What a record in a device's chain says. Only `rating` enters satisfaction statistics.
public enum RecordKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A level given by a citizen (the only kind before `PJR2`).
    case rating
    /// 未评价: an armed session that timed out with no rating; counted for the unrated rate.
    case unrated
    /// Reasons and comment given after a bad rating, linked to it by `refersTo`.
    case reasons
}

/// A record as captured, before the outbox gives it a place in the device's chain. Most are
/// ratings; `kind` says when it is a 未评价 event or a follow-up with reasons instead.
public struct NewRating: Sendable, Hashable {
    public var id: UUID
    public var kind: RecordKind
    /// The id of the rating a `reasons` record completes; nil for every other kind.
    public var refersTo: UUID?
    public var staffId: String?
    public var windowId: String?
    public var matterCode: String?
    public var caseNo: String?
    public var channel: RatingChannel
    public var scale: String
    /// The level pressed; 0 for an `unrated` record (nothing was pressed).
    public var level: Int
    /// Nil only for an `unrated` record.
    public var code: SatisfactionCode?
    public var reasons: [String]
    public var comment: String?
    public var ratedAt: String
    public var monotonicNs: UInt64
    public var flags: Set<RatingFlag>

    public init(id: UUID = UUID(), kind: RecordKind = .rating, refersTo: UUID? = nil,
                staffId: String?, windowId: String?, matterCode: String? = nil,
                caseNo: String? = nil, channel: RatingChannel, scale: String, level: Int,
                code: SatisfactionCode?, reasons: [String] = [], comment: String? = nil,
                ratedAt: String, monotonicNs: UInt64, flags: Set<RatingFlag> = []) {
        self.id = id
        self.kind = kind
        self.refersTo = refersTo
        self.staffId = staffId
        self.windowId = windowId
        self.matterCode = matterCode
        self.caseNo = caseNo
        self.channel = channel
        self.scale = scale
        self.level = level
        self.code = code
        self.reasons = reasons
        self.comment = comment
        self.ratedAt = ratedAt
        self.monotonicNs = monotonicNs
        self.flags = flags
    }

    /// Builds a rating from what was pressed on `scale`, checking the level and reasons against it.
    public init(scale: Scale, level value: Int, reasons: [String] = [], comment: String? = nil,
                staffId: String?, windowId: String?, matterCode: String? = nil, caseNo: String? = nil,
                channel: RatingChannel, at time: DeviceTime, flags: Set<RatingFlag> = [],
                id: UUID = UUID()) throws(RatingError) {
        guard let level = scale.level(value) else {
            throw .unknownLevel(value, scale: scale.name, known: scale.levels.map(\.value))
        }
        for reason in reasons where scale.reason(reason) == nil {
            throw .unknownReason(reason, scale: scale.name, known: scale.reasons.map(\.code))
        }
        self.init(id: id, staffId: staffId, windowId: windowId, matterCode: matterCode, caseNo: caseNo,
                  channel: channel, scale: scale.name, level: level.value, code: level.code,
                  reasons: reasons, comment: comment, ratedAt: time.wallClock, monotonicNs: time.monotonicNs,
                  flags: flags)
    }
}

extension NewRating {
    /// 未评价: the session at `windowId` timed out with no press. No level, no code.
    public static func unrated(staffId: String?, windowId: String?, matterCode: String? = nil, caseNo: String? = nil,
                               channel: RatingChannel, scale: String, at time: DeviceTime, id: UUID = UUID()) -> NewRating {
        NewRating(id: id, kind: .unrated, staffId: staffId, windowId: windowId, matterCode: matterCode, caseNo: caseNo,
                  channel: channel, scale: scale, level: 0, code: nil, ratedAt: time.wallClock,
                  monotonicNs: time.monotonicNs)
    }

    /// The follow-up of the bad `rating`: its reasons and comment, with the rating's who, where,
    /// scale and level so the record reads on its own, linked by `refersTo`.
    public static func reasons(for rating: NewRating, reasons: [String], comment: String?, channel: RatingChannel,
                               at time: DeviceTime, id: UUID = UUID()) -> NewRating {
        NewRating(id: id, kind: .reasons, refersTo: rating.id, staffId: rating.staffId, windowId: rating.windowId,
                  matterCode: rating.matterCode, caseNo: rating.caseNo, channel: channel, scale: rating.scale,
                  level: rating.level, code: rating.code, reasons: reasons, comment: comment,
                  ratedAt: time.wallClock, monotonicNs: time.monotonicNs)
    }

    /// Counts in satisfaction statistics: a rating with no flag (test, repeat, unarmed, burst, paused).
    public var countsInStatistics: Bool { kind == .rating && flags.isEmpty }
}

/// A committed rating: immutable, with its place in the device's hash chain.
public struct RatingRecord: Sendable, Hashable {
    public let seq: UInt64
    public let deviceId: String
    public let rating: NewRating
    public let prevHash: ChainHash
    public let hash: ChainHash

    /// Computes `hash` over the canonical encoding; use when committing a new record.
    public init(seq: UInt64, deviceId: String, rating: NewRating, prevHash: ChainHash) {
        self.seq = seq
        self.deviceId = deviceId
        self.rating = rating
        self.prevHash = prevHash
        self.hash = ChainHash.of(CanonicalEncoding.encode(seq: seq, deviceId: deviceId, rating: rating, prevHash: prevHash))
    }

    /// Rebuilds a stored record without recomputing: `verify` then tells whether it was altered.
    public init(seq: UInt64, deviceId: String, rating: NewRating, prevHash: ChainHash, storedHash: ChainHash) {
        self.seq = seq
        self.deviceId = deviceId
        self.rating = rating
        self.prevHash = prevHash
        self.hash = storedHash
    }

    public var canonicalBytes: [UInt8] {
        CanonicalEncoding.encode(seq: seq, deviceId: deviceId, rating: rating, prevHash: prevHash)
    }

    /// True when the stored hash is the hash of the stored fields.
    public var hashMatchesContent: Bool { ChainHash.of(canonicalBytes) == hash }
}

public enum RatingError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownLevel(Int, scale: String, known: [Int])
    case unknownReason(String, scale: String, known: [String])
    case invalidField(String, reason: String)
    /// The same reason chosen twice.
    case reasonTwice(String)
    /// Reasons on a level that is not 差评: `bad` are the scale's bad levels.
    case reasonsOnGoodRating(level: Int, bad: [Int])
    case commentTooLong(max: Int)
    /// A follow-up with neither reasons nor a comment: it would use up the rating's one and say nothing.
    case nothingToAdd

    public var description: String {
        switch self {
        case let .unknownLevel(level, scale, known):
            "level \(level) is not on scale '\(scale)': use one of \(known.map(String.init).joined(separator: ", "))"
        case let .unknownReason(reason, scale, known):
            "reason '\(reason)' is not offered by scale '\(scale)': use one of \(known.joined(separator: ", "))"
        case let .invalidField(field, reason):
            "\(field): \(reason)"
        case let .reasonTwice(reason):
            "reason '\(reason)' is given twice: each reason may be chosen once"
        case let .reasonsOnGoodRating(level, bad):
            "level \(level) is not a bad rating: reasons go with \(bad.map(String.init).joined(separator: ", ")) only"
        case let .commentTooLong(max):
            "a comment is at most \(max) characters"
        case .nothingToAdd:
            "give reasons, a comment, or both"
        }
    }
}

/// Why reasons cannot follow a rating. Each maps to one HTTP status in the local API.
public enum FollowUpRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// No record with that id in this device's outbox.
    case unknownRating(String)
    /// The id names a record that is not a bad rating (a good one, or a 未评价 / reasons record).
    case notABadRating(String)
    /// The rating already has its follow-up (one per rating).
    case alreadyGiven(String, seq: UInt64)
    /// The follow-up window after the rating has passed.
    case tooLate(String, windowSeconds: Int)

    public var description: String {
        switch self {
        case .unknownRating(let id): "no rating \(id) on this device"
        case .notABadRating(let id): "record \(id) is not a bad rating (不满意 or worse): reasons follow bad ratings only"
        case let .alreadyGiven(id, seq): "rating \(id) already has its reasons (record seq \(seq))"
        case let .tooLate(id, window): "rating \(id) was given more than \(window) s ago: reasons are taken within \(window) s"
        }
    }
}

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

/// A rating as captured, before the outbox gives it a place in the device's chain.
public struct NewRating: Sendable, Hashable {
    public var id: UUID
    public var staffId: String?
    public var windowId: String?
    public var matterCode: String?
    public var caseNo: String?
    public var channel: RatingChannel
    public var scale: String
    public var level: Int
    public var code: SatisfactionCode
    public var reasons: [String]
    public var comment: String?
    public var ratedAt: String
    public var monotonicNs: UInt64
    public var flags: Set<RatingFlag>

    public init(id: UUID = UUID(), staffId: String?, windowId: String?, matterCode: String? = nil,
                caseNo: String? = nil, channel: RatingChannel, scale: String, level: Int,
                code: SatisfactionCode, reasons: [String] = [], comment: String? = nil,
                ratedAt: String, monotonicNs: UInt64, flags: Set<RatingFlag> = []) {
        self.id = id
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

    public var description: String {
        switch self {
        case let .unknownLevel(level, scale, known):
            "level \(level) is not on scale '\(scale)': use one of \(known.map(String.init).joined(separator: ", "))"
        case let .unknownReason(reason, scale, known):
            "reason '\(reason)' is not offered by scale '\(scale)': use one of \(known.joined(separator: ", "))"
        case let .invalidField(field, reason):
            "\(field): \(reason)"
        }
    }
}

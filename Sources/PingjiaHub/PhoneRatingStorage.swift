import Foundation
import PingjiaCore

/// What the phone page needs stored: each hall's roster (with photos) and scale, and the phone
/// ratings themselves (`phone_rating`, one row per rating, at most one per token). Both backends
/// implement it in their `+Phone` files; each method is one transaction.
public protocol PhoneRatingStorage: Sendable {
    /// The hall's staff, by 工号 (photo bytes not included).
    func hubRoster(hall: String) async throws(HubError) -> [HubStaff]
    /// Adds or updates `staff` of `hall` with their photos (by 工号; a person without one loses
    /// theirs), and with `replace` removes the hall's staff who are not in `staff`. All or nothing.
    func importHubRoster(hall: String, staff: [HubStaff], photos: [String: StaffPhoto], replace: Bool,
                         now: Date) async throws(HubError) -> RosterImportSummary
    func hubStaff(hall: String, staffId: String) async throws(HubError) -> HubStaff?
    func staffPhoto(hall: String, staffId: String) async throws(HubError) -> StaffPhoto?
    /// The scale a hall rates on, when set (the phone page uses `five` otherwise).
    func hallScale(hall: String) async throws(HubError) -> String?
    func setHallScale(hall: String, scale: String) async throws(HubError)
    /// Stores a phone rating; a token's nonce is accepted once (`.tokenUsed` after that), atomically.
    func storePhoneRating(_ rating: PhoneRating) async throws(HubError) -> PhoneRatingOutcome
    /// Whether a rating with this token nonce is stored (so the page can refuse before the form).
    func isTokenUsed(nonce: String) async throws(HubError) -> Bool
    /// Phone ratings, oldest first; of one hall, or of all with nil.
    func phoneRatings(hall: String?) async throws(HubError) -> [PhoneRating]
}

/// A staff member on the hub: the kiosk roster's fields plus the window's name.
public struct HubStaff: Sendable, Equatable {
    public var staff: Staff
    public var windowName: String

    public init(staff: Staff, windowName: String) {
        self.staff = staff
        self.windowName = windowName
    }
}

public struct StaffPhoto: Sendable, Equatable {
    public var contentType: String
    public var bytes: [UInt8]

    public init(contentType: String, bytes: [UInt8]) {
        self.contentType = contentType
        self.bytes = bytes
    }

    /// Largest photo stored: a phone shows it at about 200 px.
    public static let maxBytes = 512 * 1024

    /// The photo, when `bytes` are a JPEG, PNG or WebP image of at most `maxBytes`; else why not.
    public static func check(_ bytes: [UInt8]) -> Result<StaffPhoto, PhotoProblem> {
        guard bytes.count <= maxBytes else { return .failure(.tooLarge(bytes.count)) }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .success(StaffPhoto(contentType: "image/jpeg", bytes: bytes)) }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return .success(StaffPhoto(contentType: "image/png", bytes: bytes))
        }
        if bytes.count > 12, bytes[0..<4] == [0x52, 0x49, 0x46, 0x46], bytes[8..<12] == [0x57, 0x45, 0x42, 0x50] {
            return .success(StaffPhoto(contentType: "image/webp", bytes: bytes))
        }
        return .failure(.notAnImage)
    }

    public enum PhotoProblem: Error, Sendable, Equatable, CustomStringConvertible {
        case tooLarge(Int)
        case notAnImage

        public var description: String {
            switch self {
            case .tooLarge(let size): "is \(size / 1024) KiB; photos may be at most \(StaffPhoto.maxBytes / 1024) KiB (scale it down)"
            case .notAnImage: "is not a JPEG, PNG or WebP image"
            }
        }
    }
}

public struct RosterImportSummary: Sendable, Equatable {
    public var added: Int
    public var updated: Int
    public var removed: Int

    public init(added: Int, updated: Int, removed: Int) {
        self.added = added
        self.updated = updated
        self.removed = removed
    }
}

/// One row of `phone_rating`.
public struct PhoneRating: Sendable, Equatable {
    public enum Source: String, Sendable, Equatable {
        /// From a per-transaction QR code: signed by the device, one rating per token.
        case token
        /// From a staff member's printed sticker: no transaction behind it, rate-limited per client.
        case sticker
    }

    public var ratingId: String
    public var hall: String
    public var deviceId: String
    public var staffId: String
    public var windowId: String?
    public var matterCode: String?
    public var caseNo: String?
    public var scale: String
    /// GB/T 39046 code 1-5 (4-5 差评), whatever the scale.
    public var code: Int
    public var reasons: [String]
    public var comment: String?
    public var source: Source
    public var tokenNonce: String?
    /// A keyed hash of the client's address (never the address itself).
    public var client: String
    public var ratedAt: Date

    public init(ratingId: String = UUID().uuidString.lowercased(), hall: String, deviceId: String, staffId: String,
                windowId: String?, matterCode: String?, caseNo: String?, scale: String, code: Int, reasons: [String],
                comment: String?, source: Source, tokenNonce: String?, client: String, ratedAt: Date) {
        self.ratingId = ratingId
        self.hall = hall
        self.deviceId = deviceId
        self.staffId = staffId
        self.windowId = windowId
        self.matterCode = matterCode
        self.caseNo = caseNo
        self.scale = scale
        self.code = code
        self.reasons = reasons
        self.comment = comment
        self.source = source
        self.tokenNonce = tokenNonce
        self.client = client
        self.ratedAt = ratedAt
    }
}

public enum PhoneRatingOutcome: Sendable, Equatable {
    case stored
    /// A rating with this token is already stored: nothing was written.
    case tokenUsed
}

/// Both backends read and write `reasons` and `matters` as a JSON array of strings.
enum StringList {
    static func json(_ strings: [String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: strings, options: [.withoutEscapingSlashes])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func parse(_ text: String) -> [String] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String]) ?? []
    }
}

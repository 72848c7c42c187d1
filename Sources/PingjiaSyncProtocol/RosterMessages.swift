import Foundation
import PingjiaCore

/// The hub's roster of a device's hall, signed with the hub's key: `GET
/// /v1/devices/{id}/roster` (the request signed by the device key, `DeviceAuth`). Photos stay on
/// the hub; a kiosk keeps the photo files it has.
public struct SignedRoster: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let windowId: String
        public let windowName: String
        public let matters: [String]

        public init(id: String, name: String, windowId: String, windowName: String, matters: [String]) {
            self.id = id
            self.name = name
            self.windowId = windowId
            self.windowName = windowName
            self.matters = matters
        }
    }

    public let deviceId: String
    public let hall: String
    public let staff: [Entry]
    public let issuedAt: String
    public let signature: String

    public init(deviceId: String, hall: String, staff: [Entry], issuedAt: String, key: SigningKey) {
        self.deviceId = deviceId
        self.hall = hall
        self.staff = staff
        self.issuedAt = issuedAt
        signature = key.sign(Self.signatureInput(deviceId: deviceId, hall: hall, staff: staff, issuedAt: issuedAt))
    }

    /// `"PJS1"`, device id, hall, the number of entries, each entry's fields (matters counted),
    /// the issue time; length-prefixed as every signed input.
    public static func signatureInput(deviceId: String, hall: String, staff: [Entry], issuedAt: String) -> [UInt8] {
        var out = Array("PJS1".utf8)
        SignatureInput.append(deviceId, &out)
        SignatureInput.append(hall, &out)
        SignatureInput.append(UInt64(staff.count), &out)
        for entry in staff {
            for field in [entry.id, entry.name, entry.windowId, entry.windowName] { SignatureInput.append(field, &out) }
            SignatureInput.append(UInt64(entry.matters.count), &out)
            for matter in entry.matters { SignatureInput.append(matter, &out) }
        }
        SignatureInput.append(issuedAt, &out)
        return out
    }

    /// Names the roster's content, whenever it was issued: the `ETag` of `GET …/roster` (a kiosk
    /// that holds it gets 304) and what a kiosk reports in its heartbeat as applied.
    public var contentDigest: String { Self.contentDigest(deviceId: deviceId, hall: hall, staff: staff) }

    public static func contentDigest(deviceId: String, hall: String, staff: [Entry]) -> String {
        ChainHash.of(signatureInput(deviceId: deviceId, hall: hall, staff: staff, issuedAt: "")).hex
    }

    public func isSigned(by key: PublicKey) -> Bool {
        key.isValid(signature: signature, for: Self.signatureInput(deviceId: deviceId, hall: hall, staff: staff, issuedAt: issuedAt))
    }
}

/// `POST /v1/devices/{id}/roster`, signed by the device (`DeviceAuth`): the roster `pingjia setup`
/// was given, offered to the hub. The hub holds one roster per hall and it is the hall's only
/// roster: a hall without one adopts the offer (201 `adopted`), the same roster is 200 `same`,
/// and a different one is refused (409 `roster-conflict`): the kiosk then takes the hub's.
public struct RosterOffer: Codable, Sendable, Equatable {
    public let staff: [SignedRoster.Entry]
    /// Photo bytes (base64) by 工号, for the phone page; staff without one have none.
    public let photos: [String: String]

    public init(staff: [SignedRoster.Entry], photos: [String: String]) {
        self.staff = staff
        self.photos = photos
    }

    public static let adopted = "adopted"
    public static let same = "same"
    public static let conflict = "roster-conflict"
}

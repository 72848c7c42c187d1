import Crypto
import Foundation

/// The hub's configuration for one device, signed with the hub's key (which the device learnt at
/// enrollment), so a document that did not come from that hub is never applied. `GET
/// /v1/devices/{id}/config` answers with this.
public struct SignedConfig: Codable, Sendable, Equatable {
    public let deviceId: String
    public let version: Int
    /// TOML text of the hall's document and of the device's own, each optional.
    public let hallDocument: String?
    public let deviceDocument: String?
    public let issuedAt: String
    public let signature: String

    public init(deviceId: String, version: Int, hallDocument: String?, deviceDocument: String?, issuedAt: String, key: SigningKey) {
        self.deviceId = deviceId
        self.version = version
        self.hallDocument = hallDocument
        self.deviceDocument = deviceDocument
        self.issuedAt = issuedAt
        signature = key.sign(Self.signatureInput(deviceId: deviceId, version: version, hallDocument: hallDocument,
                                                 deviceDocument: deviceDocument, issuedAt: issuedAt))
    }

    /// `"PJC1"`, the device id, the version, each document with a presence byte, the issue time.
    public static func signatureInput(deviceId: String, version: Int, hallDocument: String?, deviceDocument: String?,
                                      issuedAt: String) -> [UInt8] {
        var out = Array("PJC1".utf8)
        SignatureInput.append(deviceId, &out)
        SignatureInput.append(UInt64(max(version, 0)), &out)
        for document in [hallDocument, deviceDocument] {
            out.append(document == nil ? 0 : 1)
            SignatureInput.append(document ?? "", &out)
        }
        SignatureInput.append(issuedAt, &out)
        return out
    }

    public func isSigned(by key: PublicKey) -> Bool {
        key.isValid(signature: signature, for: Self.signatureInput(deviceId: deviceId, version: version, hallDocument: hallDocument,
                                                                  deviceDocument: deviceDocument, issuedAt: issuedAt))
    }
}

/// What the device did with a version: applied (with the keys its local file overrides) or
/// refused, and why. `POST /v1/devices/{id}/config/result`.
public struct ConfigResult: Codable, Sendable, Equatable {
    public let version: Int
    public let applied: Bool
    public let reason: String?
    public let overrides: [String]

    public init(version: Int, applied: Bool, reason: String?, overrides: [String]) {
        self.version = version
        self.applied = applied
        self.reason = reason
        self.overrides = overrides
    }
}

/// Requests a device makes to the hub outside batches (its configuration), signed with the
/// device key: `Authorization: PJD1 <base64 signature>` over `"PJD1" method target date
/// SHA-256(body)`, `date` in `X-Pingjia-Date`. The mirror of `PullAuth`; the hub refuses dates
/// more than `PullAuth.maxSkew` from its clock, which bounds replays.
public enum DeviceAuth {
    public static let scheme = "PJD1"

    public static func input(method: String, target: String, date: String, body: [UInt8]) -> [UInt8] {
        var out = Array(scheme.utf8)
        SignatureInput.append(method, &out)
        SignatureInput.append(target, &out)
        SignatureInput.append(date, &out)
        out += Array(SHA256.hash(data: body))
        return out
    }

    public static func headers(method: String, target: String, body: [UInt8] = [], key: SigningKey, now: Date = Date()) -> [(String, String)] {
        let date = WireTime.format(now)
        return [(PullAuth.dateHeader, date),
                ("Authorization", "\(scheme) " + key.sign(input(method: method, target: target, date: date, body: body)))]
    }

    /// Nil when the request is the device's; otherwise why not.
    public static func check(method: String, target: String, body: [UInt8], date: String?, authorization: String?,
                             deviceKey: PublicKey, now: Date = Date()) -> String? {
        guard let date, let when = WireTime.parse(date) else { return "missing or unreadable \(PullAuth.dateHeader) header" }
        guard abs(when.timeIntervalSince(now)) <= PullAuth.maxSkew else {
            return "\(PullAuth.dateHeader) is more than \(Int(PullAuth.maxSkew)) s from the hub's clock (check NTP on both sides)"
        }
        guard let authorization, authorization.hasPrefix(scheme + " ") else { return "missing Authorization: \(scheme) header" }
        let signature = String(authorization.dropFirst(scheme.count + 1))
        guard deviceKey.isValid(signature: signature, for: input(method: method, target: target, date: date, body: body)) else {
            return "the request is not signed by this device's enrolled key"
        }
        return nil
    }
}

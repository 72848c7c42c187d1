import Foundation
import PingjiaCore

/// The exact bytes each signature covers (docs/sync-protocol.md). Length-prefixed and in a fixed
/// order like the record encoding, so another implementation can reproduce them byte for byte;
/// JSON is never signed, because its spelling (spacing, key order, escapes) is not stable.
public enum SignatureInput {
    /// A batch: the device vouches for the chain segment `fromSeq…toSeq` from `prevHash` to
    /// `headHash`. The records themselves need no signature: each hash covers its record and the
    /// one before, so a verified chain ending in the signed head covers every field of every record.
    public static func batch(deviceId: String, fromSeq: UInt64, toSeq: UInt64, prevHash: ChainHash,
                             headHash: ChainHash, sentAt: String) -> [UInt8] {
        var out = Array("PJB1".utf8)
        append(deviceId, &out)
        append(fromSeq, &out)
        append(toSeq, &out)
        out += prevHash.bytes
        out += headHash.bytes
        append(sentAt, &out)
        return out
    }

    /// A receipt: the hub holds this device's chain through `throughSeq`, ending in `headHash`.
    public static func receipt(deviceId: String, throughSeq: UInt64, headHash: ChainHash, receivedAt: String) -> [UInt8] {
        var out = Array("PJA1".utf8)
        append(deviceId, &out)
        append(throughSeq, &out)
        out += headHash.bytes
        append(receivedAt, &out)
        return out
    }

    static func append(_ value: UInt64, _ out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    static func append(_ text: String, _ out: inout [UInt8]) {
        let bytes = Array(text.utf8)
        let count = UInt32(bytes.count)
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
        out += bytes
    }
}

/// Pull mode: the hub authenticates its requests to a kiosk by signing them with the hub key the
/// kiosk stored at enrollment, so the kiosk needs no password or token of its own.
/// `Authorization: PJH1 <base64 signature>` over `"PJH1" text method text target text date`,
/// where `target` is the path with its query and `date` the `X-Pingjia-Date` header (ISO 8601);
/// the kiosk refuses dates more than `maxSkew` from its own clock, which bounds replays.
public enum PullAuth {
    public static let scheme = "PJH1"
    public static let dateHeader = "X-Pingjia-Date"
    public static let maxSkew: TimeInterval = 300

    public static func input(method: String, target: String, date: String) -> [UInt8] {
        var out = Array(scheme.utf8)
        SignatureInput.append(method, &out)
        SignatureInput.append(target, &out)
        SignatureInput.append(date, &out)
        return out
    }

    /// The two headers for a request, signed with the hub's key.
    public static func headers(method: String, target: String, key: SigningKey, now: Date = Date()) -> [(String, String)] {
        let date = WireTime.format(now)
        return [(dateHeader, date), ("Authorization", "\(scheme) " + key.sign(input(method: method, target: target, date: date)))]
    }

    /// Nil when the request is the hub's; otherwise why not.
    public static func check(method: String, target: String, date: String?, authorization: String?, hubKey: PublicKey,
                             now: Date = Date()) -> String? {
        guard let date, let when = WireTime.parse(date) else { return "missing or unreadable \(dateHeader) header" }
        guard abs(when.timeIntervalSince(now)) <= maxSkew else {
            return "\(dateHeader) is more than \(Int(maxSkew)) s from this kiosk's clock (check NTP on both sides)"
        }
        guard let authorization, authorization.hasPrefix(scheme + " ") else { return "missing Authorization: \(scheme) header" }
        let signature = String(authorization.dropFirst(scheme.count + 1))
        guard hubKey.isValid(signature: signature, for: input(method: method, target: target, date: date)) else {
            return "the request is not signed by the hub this kiosk enrolled with"
        }
        return nil
    }
}

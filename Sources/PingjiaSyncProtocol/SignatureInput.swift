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

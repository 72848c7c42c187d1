import Crypto
import Foundation

/// A SHA-256 digest linking a record to the one before it.
public struct ChainHash: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// The `prevHash` of a device's first record.
    public static let genesis = ChainHash(uncheckedBytes: [UInt8](repeating: 0, count: 32))

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Parses exactly 64 hex digits. Works on UTF-8 bytes, not `UInt8(_:radix:)` over Characters:
    /// that accepts a sign ("+f") and walking Characters of non-ASCII input ran past the end.
    public init?(hex: String) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for position in stride(from: 0, to: 64, by: 2) {
            guard let high = ChainHash.nibble(digits[position]), let low = ChainHash.nibble(digits[position + 1]) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        self.bytes = bytes
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private init(uncheckedBytes: [UInt8]) { bytes = uncheckedBytes }

    public static func of(_ data: [UInt8]) -> ChainHash {
        ChainHash(uncheckedBytes: Array(SHA256.hash(data: data)))
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
}

/// The byte encoding of a record that its hash covers (docs/record-format.md): `PJR1` for a
/// rating, `PJR2` (the same fields, then `kind` and `refersTo`) for every other kind.
///
/// It must never change for a given version tag: the hub and any provincial platform recompute
/// it to check the chain, possibly in another language, years after the record was made. Hence
/// a plain length-prefixed layout in a fixed field order, with no floats, no maps and no
/// platform-dependent text formatting.
public enum CanonicalEncoding {
    public static let magic: [UInt8] = Array("PJR1".utf8)
    public static let magicV2: [UInt8] = Array("PJR2".utf8)

    /// Ratings keep their `PJR1` bytes exactly, so every hash already in a chain, on a hub or at a
    /// provincial platform still verifies; only the new kinds need the longer layout.
    public static func encode(seq: UInt64, deviceId: String, rating: NewRating, prevHash: ChainHash) -> [UInt8] {
        let v1 = rating.kind == .rating && rating.refersTo == nil
        var out = v1 ? magic : magicV2
        out.reserveCapacity(256)
        append(seq, to: &out)
        append(rating.id.uuidString.lowercased(), to: &out)
        append(deviceId, to: &out)
        appendOptional(rating.staffId, to: &out)
        appendOptional(rating.windowId, to: &out)
        appendOptional(rating.matterCode, to: &out)
        appendOptional(rating.caseNo, to: &out)
        append(rating.channel.rawValue, to: &out)
        append(rating.scale, to: &out)
        out.append(UInt8(truncatingIfNeeded: rating.level))
        out.append(UInt8(truncatingIfNeeded: rating.code?.rawValue ?? 0))
        appendList(rating.reasons, to: &out)
        appendOptional(rating.comment, to: &out)
        append(rating.ratedAt, to: &out)
        append(rating.monotonicNs, to: &out)
        // Sorted by UTF-8 bytes as the format says, not by String `<` (Unicode-aware ordering).
        appendList(rating.flags.map(\.rawValue).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, to: &out)
        if !v1 {
            append(rating.kind.rawValue, to: &out)
            appendOptional(rating.refersTo.map { $0.uuidString.lowercased() }, to: &out)
        }
        out.append(contentsOf: prevHash.bytes)
        return out
    }

    private static func append(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private static func append(_ value: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }

    private static func append(_ string: String, to out: inout [UInt8]) {
        let utf8 = Array(string.utf8)
        append(UInt32(utf8.count), to: &out)
        out.append(contentsOf: utf8)
    }

    private static func appendOptional(_ string: String?, to out: inout [UInt8]) {
        if let string {
            out.append(1)
            append(string, to: &out)
        } else {
            out.append(0)
        }
    }

    private static func appendList(_ strings: [String], to out: inout [UInt8]) {
        append(UInt32(strings.count), to: &out)
        for string in strings { append(string, to: &out) }
    }
}

import Foundation
import PingjiaCore

/// A per-transaction rating token (一事一评): the kiosk signs it with its device key and shows it
/// in the window's QR code while a session is armed; the hub's phone page accepts one rating per
/// token and only before it expires.
///
/// Text form: `base64url(payload) "." base64url(signature)`, no padding, where `payload` is the
/// canonical byte string below and the signature is Ed25519 over exactly those bytes. The payload
/// is signed as it travels, so the hub never re-encodes anything before verifying; like
/// `SignatureInput`, fields are length-prefixed in a fixed order (JSON is never signed):
/// `"PJT1"`, deviceId, windowId, staffId, matterCode ("" = none), caseNo ("" = none),
/// issuedAt and expiresAt (Unix seconds, u64 big-endian), nonce. Texts are u32 length + UTF-8.
public struct RatingToken: Sendable, Hashable {
    public var deviceId: String
    public var windowId: String
    public var staffId: String
    public var matterCode: String?
    public var caseNo: String?
    /// Unix seconds.
    public var issuedAt: Int64
    public var expiresAt: Int64
    /// Unique per transaction (the kiosk uses the armed session's id): the hub stores it to refuse
    /// a second rating with the token.
    public var nonce: String

    public static let magic = Array("PJT1".utf8)
    /// A device cannot issue a token that lives longer than this, whatever its settings say.
    public static let maxLifetime: Int64 = 24 * 3600
    /// Longest token text accepted: fields at their limits stay under it; anything longer is refused
    /// before any decoding work.
    public static let maxTextLength = 1024
    static let maxFieldBytes = 64

    public init(deviceId: String, windowId: String, staffId: String, matterCode: String? = nil, caseNo: String? = nil,
                issuedAt: Int64, expiresAt: Int64, nonce: String = RatingToken.makeNonce()) {
        self.deviceId = deviceId
        self.windowId = windowId
        self.staffId = staffId
        self.matterCode = matterCode
        self.caseNo = caseNo
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.nonce = nonce
    }

    public static func makeNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// The exact bytes the device signs.
    public var payload: [UInt8] {
        var out = Self.magic
        for text in [deviceId, windowId, staffId, matterCode ?? "", caseNo ?? ""] { SignatureInput.append(text, &out) }
        SignatureInput.append(UInt64(bitPattern: issuedAt), &out)
        SignatureInput.append(UInt64(bitPattern: expiresAt), &out)
        SignatureInput.append(nonce, &out)
        return out
    }

    /// The token as it goes into the QR code's URL (`?t=`): URL-safe without escaping.
    public func encoded(signedWith key: SigningKey) -> String {
        let bytes = payload
        let signature = Data(base64Encoded: key.sign(bytes)) ?? Data()
        return Base64URL.encode(bytes) + "." + Base64URL.encode([UInt8](signature))
    }

    /// Reads a token's text without checking its signature: the hub needs the device id in it to
    /// find the key. Every field is checked for form; anything else is `.malformed`.
    public static func decode(_ text: String) throws(RatingTokenProblem) -> (token: RatingToken, payload: [UInt8], signature: [UInt8]) {
        guard text.utf8.count <= maxTextLength else { throw .malformed("longer than \(maxTextLength) characters") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .malformed("not two parts separated by '.'") }
        guard let payload = Base64URL.decode(parts[0]), let signature = Base64URL.decode(parts[1]) else {
            throw .malformed("not base64url")
        }
        guard signature.count == 64 else { throw .malformed("the signature is not 64 bytes") }
        var reader = Reader(bytes: payload)
        guard reader.take(magic.count) == magic else { throw .malformed("not a PJT1 token") }
        let device = try reader.text("deviceId")
        let window = try reader.text("windowId")
        let staff = try reader.text("staffId")
        let matter = try reader.text("matterCode")
        let caseNo = try reader.text("caseNo")
        let issued = try reader.number("issuedAt")
        let expires = try reader.number("expiresAt")
        let nonce = try reader.text("nonce")
        guard reader.atEnd else { throw .malformed("bytes after the last field") }
        for (name, value) in [("deviceId", device), ("windowId", window), ("staffId", staff)] where !Identifier.isValidID(value) {
            throw .malformed("\(name) must be \(Identifier.idRule)")
        }
        guard !nonce.isEmpty else { throw .malformed("empty nonce") }
        guard expires > issued, expires - issued <= maxLifetime else {
            throw .malformed("expiresAt must be after issuedAt and at most \(maxLifetime) s later")
        }
        let token = RatingToken(deviceId: device, windowId: window, staffId: staff, matterCode: matter.isEmpty ? nil : matter,
                                caseNo: caseNo.isEmpty ? nil : caseNo, issuedAt: issued, expiresAt: expires, nonce: nonce)
        return (token, payload, signature)
    }

    /// Decodes and checks a token against the key of the device it names: signature, then time.
    /// `skew` allows for the device's clock being ahead of the hub's when it issued the token.
    public static func verify(_ text: String, deviceKey: PublicKey, now: Date,
                              skew: TimeInterval = 300) -> Result<RatingToken, RatingTokenProblem> {
        let decoded: (token: RatingToken, payload: [UInt8], signature: [UInt8])
        do { decoded = try decode(text) } catch { return .failure(error) }
        guard deviceKey.key.isValidSignature(Data(decoded.signature), for: decoded.payload) else { return .failure(.badSignature) }
        let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
        if seconds >= decoded.token.expiresAt { return .failure(.expired(at: decoded.token.expiresAt)) }
        if Double(decoded.token.issuedAt) > now.timeIntervalSince1970 + skew { return .failure(.notYetValid) }
        return .success(decoded.token)
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0

        var atEnd: Bool { position == bytes.count }

        mutating func take(_ count: Int) -> [UInt8]? {
            guard count >= 0, bytes.count - position >= count else { return nil }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }

        mutating func number(_ field: String) throws(RatingTokenProblem) -> Int64 {
            guard let raw = take(8) else { throw .malformed("\(field) is cut short") }
            let value = raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard value <= UInt64(Int64.max) else { throw .malformed("\(field) is out of range") }
            return Int64(value)
        }

        mutating func text(_ field: String) throws(RatingTokenProblem) -> String {
            guard let raw = take(4) else { throw .malformed("\(field) is cut short") }
            let count = raw.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard count <= UInt32(RatingToken.maxFieldBytes) else { throw .malformed("\(field) is longer than \(RatingToken.maxFieldBytes) bytes") }
            guard let body = take(Int(count)) else { throw .malformed("\(field) is cut short") }
            guard let text = String(validating: body, as: UTF8.self) else { throw .malformed("\(field) is not UTF-8") }
            return text
        }
    }
}

public enum RatingTokenProblem: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case badSignature
    case expired(at: Int64)
    case notYetValid

    public var description: String {
        switch self {
        case .malformed(let reason): "not a rating token: \(reason)"
        case .badSignature: "the token is not signed by the device it names"
        case .expired(let at): "the token expired at \(WireTime.format(Date(timeIntervalSince1970: TimeInterval(at))))"
        case .notYetValid: "the token was issued in the future (the device's clock is ahead)"
        }
    }
}

/// RFC 4648 §5 without padding: the token travels in a URL query and a QR code.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        guard text.utf8.allSatisfy({ byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"): true
            default: false
            }
        }), text.utf8.count % 4 != 1 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        return Data(base64Encoded: standard).map { [UInt8]($0) }
    }
}

// libFuzzer entry point: what the hub does with the `t` parameter of a phone-page URL (token
// decoding, signature check, expiry) must give a token or a refusal, never a crash.
//
// Half of the inputs (first byte even) are taken as the token text, as a phone sends it; the
// others (first byte odd) are taken as raw payload bytes and signed with the fuzzer's key, so the
// payload parser is reached without the fuzzer first having to learn base64url and Ed25519.
// Whatever decodes must encode back to the very bytes that were signed.
//
// The seeds in Tests/Fuzz/corpus/qrtoken are valid tokens signed with that key; RatingTokenTests
// checks them and rewrites them when run with PINGJIA_WRITE_FUZZ_SEEDS=1.
import Foundation
import PingjiaSyncProtocol

enum FuzzKey {
    static let key = try! SigningKey(rawRepresentation: Data(repeating: 7, count: 32))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let key = FuzzKey.key
    let text: String
    if first & 1 == 0 {
        text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    } else {
        let payload = Array(bytes.dropFirst())
        let signature = Data(base64Encoded: key.sign(payload)) ?? Data()
        text = Base64URL.encode(payload) + "." + Base64URL.encode([UInt8](signature))
    }
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    if let decoded = try? RatingToken.decode(text) {
        precondition(decoded.token.payload == decoded.payload, "a decoded token must encode to the bytes that were signed")
        if case .success(let token) = RatingToken.verify(text, deviceKey: key.publicKey, now: now) {
            precondition(token == decoded.token && token.expiresAt > 1_800_000_000)
        }
    } else {
        // What does not decode must not verify either.
        if case .success = RatingToken.verify(text, deviceKey: key.publicKey, now: now) { preconditionFailure("verified an undecodable token") }
    }
    return 0
}

import Foundation
import PingjiaSyncProtocol
import Testing

@Suite struct RatingTokenTests {
    static let key = try! SigningKey(rawRepresentation: Data(repeating: 7, count: 32))
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func token(matter: String? = "11000000000000000X4440111700001", caseNo: String? = "BJ-2026-7", nonce: String = "bm9uY2Utbm9uY2Utbm9u",
                      issued: Int64 = 1_799_999_900, expires: Int64 = 1_800_000_500) -> RatingToken {
        RatingToken(deviceId: "pj-0123456789ab", windowId: "3", staffId: "A1023", matterCode: matter, caseNo: caseNo,
                    issuedAt: issued, expiresAt: expires, nonce: nonce)
    }

    @Test func aSignedTokenVerifiesAndCarriesEveryField() throws {
        for token in [Self.token(), Self.token(matter: nil, caseNo: nil), Self.token(matter: "事项", caseNo: "办件-1")] {
            let text = token.encoded(signedWith: Self.key)
            #expect(text.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) } && text.allSatisfy(\.isASCII), "URL-safe: \(text)")
            #expect(try RatingToken.verify(text, deviceKey: Self.key.publicKey, now: Self.now).get() == token)
            #expect(try RatingToken.decode(text).payload == token.payload)
        }
        #expect(RatingToken.makeNonce() != RatingToken.makeNonce())
        #expect(RatingToken.makeNonce().count == 22)
    }

    /// The signed bytes, spelled out: another implementation must produce exactly these.
    @Test func thePayloadIsTheDocumentedCanonicalBytes() {
        let token = RatingToken(deviceId: "d", windowId: "3", staffId: "A1", matterCode: nil, caseNo: "c", issuedAt: 1, expiresAt: 601, nonce: "n")
        let expected: [UInt8] = Array("PJT1".utf8)
            + [0, 0, 0, 1] + Array("d".utf8) + [0, 0, 0, 1] + Array("3".utf8) + [0, 0, 0, 2] + Array("A1".utf8)
            + [0, 0, 0, 0] + [0, 0, 0, 1] + Array("c".utf8)
            + [0, 0, 0, 0, 0, 0, 0, 1] + [0, 0, 0, 0, 0, 0, 0x02, 0x59]
            + [0, 0, 0, 1] + Array("n".utf8)
        #expect(token.payload == expected)
    }

    @Test func forgedExpiredAndMalformedTokensAreRefused() {
        let text = Self.token().encoded(signedWith: Self.key)
        let other = SigningKey()
        #expect(RatingToken.verify(Self.token().encoded(signedWith: other), deviceKey: Self.key.publicKey, now: Self.now) == .failure(.badSignature))
        #expect(RatingToken.verify(text, deviceKey: other.publicKey, now: Self.now) == .failure(.badSignature))
        // The payload of another token with this token's signature.
        let swapped = Self.token(caseNo: "BJ-2026-8").encoded(signedWith: Self.key).split(separator: ".")[0] + "." + text.split(separator: ".")[1]
        #expect(RatingToken.verify(String(swapped), deviceKey: Self.key.publicKey, now: Self.now) == .failure(.badSignature))
        #expect(RatingToken.verify(text, deviceKey: Self.key.publicKey, now: Date(timeIntervalSince1970: 1_800_000_500))
                == .failure(.expired(at: 1_800_000_500)))
        #expect(RatingToken.verify(text, deviceKey: Self.key.publicKey, now: Date(timeIntervalSince1970: 1_799_999_000))
                == .failure(.notYetValid))
        for bad in ["", ".", "abc", "a.b.c", text + "=", text.replacingOccurrences(of: ".", with: "!"), String(repeating: "A", count: 2000),
                    Self.token(issued: 10, expires: 10).encoded(signedWith: Self.key),
                    Self.token(issued: 10, expires: 10 + 24 * 3600 + 1).encoded(signedWith: Self.key),
                    Self.token(nonce: "").encoded(signedWith: Self.key),
                    RatingToken(deviceId: "pj/../x", windowId: "3", staffId: "A1", issuedAt: 1, expiresAt: 2).encoded(signedWith: Self.key)] {
            guard case .failure(.malformed) = RatingToken.verify(bad, deviceKey: Self.key.publicKey, now: Self.now) else {
                Issue.record("accepted or misjudged: \(bad.prefix(80))")
                continue
            }
        }
        // Bytes after the last field, correctly signed, are still refused.
        var payload = Self.token().payload
        payload.append(0)
        let signature = Data(base64Encoded: Self.key.sign(payload))!
        let trailing = Base64URL.encode(payload) + "." + Base64URL.encode([UInt8](signature))
        #expect(RatingToken.verify(trailing, deviceKey: Self.key.publicKey, now: Self.now) == .failure(.malformed("bytes after the last field")))
    }

    /// FuzzQRToken's seeds must be tokens that verify with the fuzzer's key (text form, first byte
    /// 0) or payloads it signs itself (first byte 1), or the fuzzer starts from refusals only.
    @Test func theFuzzSeedsAreValidTokens() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/qrtoken")
        let seeds: [(String, RatingToken)] = [("full", Self.token()), ("bare", Self.token(matter: nil, caseNo: nil)),
                                              ("chinese", Self.token(matter: "事项编码", caseNo: "办件"))]
        if ProcessInfo.processInfo.environment["PINGJIA_WRITE_FUZZ_SEEDS"] == "1" {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (name, token) in seeds {
                try Data([0] + Array(token.encoded(signedWith: Self.key).utf8)).write(to: directory.appendingPathComponent("\(name)-text"))
                try Data([1] + token.payload).write(to: directory.appendingPathComponent("\(name)-payload"))
            }
        }
        for (name, token) in seeds {
            let text = try Data(contentsOf: directory.appendingPathComponent("\(name)-text"))
            #expect(text.first == 0)
            #expect(try RatingToken.verify(String(decoding: text.dropFirst(), as: UTF8.self), deviceKey: Self.key.publicKey, now: Self.now).get() == token)
            let payload = try Data(contentsOf: directory.appendingPathComponent("\(name)-payload"))
            #expect(payload.first == 1 && Array(payload.dropFirst()) == token.payload, "\(name)")
        }
    }
}

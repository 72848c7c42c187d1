import _CryptoExtras
import Crypto
import Foundation

/// Admin passwords, stored as `pbkdf2-sha256$ROUNDS$SALT$KEY` (base64 salt and key).
/// PBKDF2-HMAC-SHA256 from swift-crypto (BoringSSL), the slow salted KDF available on Linux here;
/// the round count travels with each hash, so raising the default later keeps old hashes valid.
public enum AdminPassword {
    /// OWASP's 2023 figure for PBKDF2-HMAC-SHA256.
    public static let defaultRounds = 600_000
    public static let minimumLength = 10

    public static func hash(_ password: String, rounds: Int = defaultRounds) throws(HubError) -> String {
        let salt = (0..<16).map { _ in UInt8.random(in: .min ... .max) }
        let key = try derive(password, salt: salt, rounds: rounds)
        return "pbkdf2-sha256$\(rounds)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// Whether `password` matches `stored`; compares in constant time.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "pbkdf2-sha256", let rounds = Int(parts[1]), rounds >= 1, rounds <= 10_000_000,
              let salt = Data(base64Encoded: String(parts[2])), let expected = Data(base64Encoded: String(parts[3])),
              let key = try? derive(password, salt: [UInt8](salt), rounds: rounds, length: expected.count) else { return false }
        return constantTimeEqual(key, [UInt8](expected))
    }

    /// Spends the time of one verification, so an unknown user name answers as slowly as a wrong
    /// password and cannot be told apart by timing.
    public static func verifyNothing(_ password: String) {
        _ = verify(password, against: dummy)
    }

    private static let dummy = "pbkdf2-sha256$\(defaultRounds)$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    static func derive(_ password: String, salt: [UInt8], rounds: Int, length: Int = 32) throws(HubError) -> [UInt8] {
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: .sha256,
                                                        outputByteCount: length, unsafeUncheckedRounds: rounds)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw .invalid("cannot hash the password: \(error)")
        }
    }
}

/// Equal length and equal bytes, in time that depends only on the length.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}

func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    constantTimeEqual(Array(a.utf8), Array(b.utf8))
}

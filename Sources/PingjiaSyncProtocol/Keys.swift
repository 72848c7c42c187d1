import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An Ed25519 key pair (a device's, or the hub's) and the file it lives in.
public struct SigningKey: Sendable {
    public let privateKey: Curve25519.Signing.PrivateKey

    public init() { privateKey = Curve25519.Signing.PrivateKey() }
    public init(rawRepresentation: Data) throws { privateKey = try .init(rawRepresentation: rawRepresentation) }

    public var publicKey: PublicKey { PublicKey(key: privateKey.publicKey) }

    public func sign(_ bytes: [UInt8]) -> String {
        // Ed25519 signing only fails on an invalid key, which `init` has already excluded.
        let signature = (try? privateKey.signature(for: bytes)) ?? Data()
        return signature.base64EncodedString()
    }

    /// Reads the key from `path` (base64 of the 32 raw bytes), or makes one and writes it with
    /// mode 0600 when `create` is true and the file is missing. Written to a temporary file and
    /// renamed, so a power cut never leaves half a key. A key that group or others may read is
    /// refused: whoever reads it can sign ratings (or receipts) in this device's name.
    public static func load(path: String, create: Bool) throws(KeyFileError) -> SigningKey {
        if let data = FileManager.default.contents(atPath: path) {
            var info = stat()
            if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
                throw .insecure(path: path, mode: Int(info.st_mode & 0o777))
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let raw = Data(base64Encoded: text), raw.count == 32, let key = try? SigningKey(rawRepresentation: raw) else {
                throw .invalid(path: path, reason: "not a base64 Ed25519 private key (32 bytes)")
            }
            return key
        }
        guard create else { throw .missing(path: path) }
        let key = SigningKey()
        try write(Data((key.privateKey.rawRepresentation.base64EncodedString() + "\n").utf8), to: path, mode: 0o600)
        return key
    }

    /// Writes `data` to `path` atomically (temporary file, fsync, rename) with `mode`.
    public static func write(_ data: Data, to path: String, mode: Int) throws(KeyFileError) {
        // A bare file name ("hub.key", beside `--db hub.db`) is in the current directory.
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        let temporary = path + ".tmp-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: mode]) else {
                throw KeyFileError.invalid(path: path, reason: "cannot create \(temporary)")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
            guard rename(temporary, path) == 0 else {
                throw KeyFileError.invalid(path: path, reason: "cannot rename \(temporary) into place: errno \(errno)")
            }
        } catch let error as KeyFileError {
            throw error
        } catch {
            throw .invalid(path: path, reason: "cannot write it: \(error.localizedDescription)")
        }
    }
}

/// An Ed25519 public key, carried as base64 of its 32 raw bytes.
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    public let key: Curve25519.Signing.PublicKey

    public init(key: Curve25519.Signing.PublicKey) { self.key = key }

    public init?(base64: String) {
        guard let raw = Data(base64Encoded: base64), raw.count == 32,
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return nil }
        self.key = key
    }

    public var base64: String { key.rawRepresentation.base64EncodedString() }
    public var description: String { base64 }

    public func isValid(signature base64: String, for bytes: [UInt8]) -> Bool {
        guard let signature = Data(base64Encoded: base64), signature.count == 64 else { return false }
        return key.isValidSignature(signature, for: bytes)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.key.rawRepresentation == rhs.key.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(key.rawRepresentation) }
}

public enum KeyFileError: Error, Sendable, CustomStringConvertible {
    case missing(path: String)
    case invalid(path: String, reason: String)
    /// Group or others may read or write the private key.
    case insecure(path: String, mode: Int)

    public var description: String {
        switch self {
        case let .missing(path): "no key at \(path): enroll this device first (`pingjia enroll --hub URL --code CODE`)"
        case let .insecure(path, mode):
            "\(path): the private key has mode \(String(mode, radix: 8)), so other users can read it; "
                + "refusing to use it. Run `chmod 600 \(path)` (and check who copied it) before starting again"
        case let .invalid(path, reason): "\(path): \(reason)"
        }
    }
}

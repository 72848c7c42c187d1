import Foundation
import PingjiaKiosk
import PingjiaSyncProtocol
import Synchronization

/// Signs the per-transaction QR token of each armed session with this device's key (the one it
/// enrolled with, so the hub can verify it): once per session, so the display shows the same code
/// for the whole session and its live updates do not redraw it.
public final class PhoneTokenIssuer: Sendable {
    let key: SigningKey
    let deviceId: String
    /// Read per token: the hub may change `[qr] token_minutes` while pingjiad runs.
    let lifetimeMinutes: @Sendable () -> Int
    let now: @Sendable () -> Date
    private let issued = Mutex<[UUID: (text: String, expiresAt: Int64)]>([:])

    public init(key: SigningKey, deviceId: String, lifetimeMinutes: @escaping @Sendable () -> Int,
                now: @escaping @Sendable () -> Date = Date.init) {
        self.key = key
        self.deviceId = deviceId
        self.lifetimeMinutes = lifetimeMinutes
        self.now = now
    }

    /// The issuer of an enrolled device (its key file exists); nil for one not enrolled yet.
    public static func load(keyFile: String, deviceId: String,
                            lifetimeMinutes: @escaping @Sendable () -> Int) throws(KeyFileError) -> PhoneTokenIssuer? {
        guard FileManager.default.fileExists(atPath: keyFile) else { return nil }
        return PhoneTokenIssuer(key: try SigningKey.load(path: keyFile, create: false), deviceId: deviceId, lifetimeMinutes: lifetimeMinutes)
    }

    /// The token text for `session`, made at its first use; a new one once it has expired.
    public func token(for session: RatingSession, staffId: String) -> String {
        issued.withLock { cache in
            let seconds = Int64(now().timeIntervalSince1970)
            if let known = cache[session.id], known.expiresAt > seconds { return known.text }
            cache = cache.filter { $0.value.expiresAt > seconds }
            let token = RatingToken(deviceId: deviceId, windowId: session.windowId, staffId: staffId, matterCode: session.matterCode,
                                    caseNo: session.caseNo, issuedAt: seconds, expiresAt: seconds + Int64(lifetimeMinutes()) * 60)
            let text = token.encoded(signedWith: key)
            cache[session.id] = (text, token.expiresAt)
            return text
        }
    }
}

import Crypto
import Foundation
import PingjiaCore

/// What a kiosk tells the hub about itself, `POST /v1/devices/{deviceId}/heartbeat`
/// (docs/sync-protocol.md, "Heartbeat"). Every field is a snapshot the kiosk already holds; none
/// needs the store's write lock.
public struct Heartbeat: Codable, Sendable, Equatable {
    public static let formatTag = "PJHB1"

    public var format: String = Heartbeat.formatTag
    public var deviceId: String
    /// Changes at each start of the daemon; with `sequence`, lets the hub refuse a replayed heartbeat.
    public var bootId: String
    /// 1, 2, 3… within one boot.
    public var sequence: UInt64
    /// The device's wall clock when it sent (ISO 8601 with offset); the hub derives the clock offset.
    public var sentAt: String
    public var version: String
    public var uptimeSeconds: UInt64
    /// Records not yet acknowledged by the hub, and how old the oldest of them is.
    public var outboxDepth: UInt64
    public var oldestUnackedAgeSeconds: Int64?
    public var ackedSeq: UInt64
    public var lastSeq: UInt64
    /// Set while sync is stopped because the hub refused the device's ratings for good.
    public var deadLetter: String?
    /// "ok", or "recovered" once the store had to be replaced by a fresh file at start.
    public var storeHealth: String
    public var diskFreeBytes: Int64?
    /// Device clock minus hub clock (ms) as the previous heartbeat answer showed it; nil before one.
    public var clockOffsetMs: Int64?
    public var windows: [WindowReport]
    /// Rating devices plugged in but bound to no window (their presses are kept, flagged unarmed).
    public var unpairedDevices: [DeviceReport]
    public var lastRatingAt: String?
    /// The remote configuration version in force on the device (nil: none applied).
    public var appliedConfigVersion: Int?
    /// The last remote configuration the device refused, and why.
    public var configRefused: ConfigRefusal?
    /// `SignedRoster.contentDigest` of the hub's roster the device follows (nil: none applied).
    public var appliedRosterDigest: String?

    public init(deviceId: String, bootId: String, sequence: UInt64, sentAt: String, version: String, uptimeSeconds: UInt64,
                outboxDepth: UInt64, oldestUnackedAgeSeconds: Int64?, ackedSeq: UInt64, lastSeq: UInt64, deadLetter: String?,
                storeHealth: String, diskFreeBytes: Int64?, clockOffsetMs: Int64?, windows: [WindowReport],
                unpairedDevices: [DeviceReport] = [], lastRatingAt: String?, appliedConfigVersion: Int? = nil,
                configRefused: ConfigRefusal? = nil, appliedRosterDigest: String? = nil) {
        self.deviceId = deviceId
        self.bootId = bootId
        self.sequence = sequence
        self.sentAt = sentAt
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.outboxDepth = outboxDepth
        self.oldestUnackedAgeSeconds = oldestUnackedAgeSeconds
        self.ackedSeq = ackedSeq
        self.lastSeq = lastSeq
        self.deadLetter = deadLetter
        self.storeHealth = storeHealth
        self.diskFreeBytes = diskFreeBytes
        self.clockOffsetMs = clockOffsetMs
        self.windows = windows
        self.unpairedDevices = unpairedDevices
        self.lastRatingAt = lastRatingAt
        self.appliedConfigVersion = appliedConfigVersion
        self.configRefused = configRefused
        self.appliedRosterDigest = appliedRosterDigest
    }

    /// One window of the kiosk: who is serving there and which rating devices are plugged in for it.
    public struct WindowReport: Codable, Sendable, Equatable {
        public var window: String
        public var staffId: String?
        /// signed-in, paused, away, signed-out (the session engine's staff status).
        public var staffStatus: String
        public var devices: [DeviceReport]
        /// A keypad is paired with this window in the config (so one is expected to be present).
        public var keypadExpected: Bool

        public init(window: String, staffId: String?, staffStatus: String, devices: [DeviceReport], keypadExpected: Bool) {
            self.window = window
            self.staffId = staffId
            self.staffStatus = staffStatus
            self.devices = devices
            self.keypadExpected = keypadExpected
        }

        /// Someone is at the window (signed in or paused), so a missing keypad costs ratings.
        public var staffed: Bool { staffStatus == "signed-in" || staffStatus == "paused" }
    }

    public struct DeviceReport: Codable, Sendable, Equatable, Hashable {
        /// The device profile's name (devices/*.toml).
        public var profile: String
        /// USB port path, e.g. "1-1.2".
        public var port: String

        public init(profile: String, port: String) {
            self.profile = profile
            self.port = port
        }
    }

    public struct ConfigRefusal: Codable, Sendable, Equatable {
        public var version: Int
        public var reason: String

        public init(version: Int, reason: String) {
            self.version = version
            self.reason = reason
        }
    }
}

/// The hub's answer to a heartbeat, signed with the hub key so the device may trust `serverTime`
/// (its clock offset) and `configVersion`.
public struct HeartbeatAnswer: Codable, Sendable, Equatable {
    public var deviceId: String
    /// Echoes the heartbeat's `sequence`, binding the answer to the request.
    public var sequence: UInt64
    /// The hub's clock (ISO 8601 UTC, ms).
    public var serverTime: String
    /// The configuration version the hub holds for this device (nil: none).
    public var configVersion: Int?
    public var signature: String

    public init(deviceId: String, sequence: UInt64, serverTime: String, configVersion: Int?, key: SigningKey) {
        self.deviceId = deviceId
        self.sequence = sequence
        self.serverTime = serverTime
        self.configVersion = configVersion
        signature = key.sign(SignatureInput.heartbeatAnswer(deviceId: deviceId, sequence: sequence, serverTime: serverTime,
                                                            configVersion: configVersion))
    }

    public func isSigned(by key: PublicKey) -> Bool {
        key.isValid(signature: signature, for: SignatureInput.heartbeatAnswer(deviceId: deviceId, sequence: sequence,
                                                                                 serverTime: serverTime, configVersion: configVersion))
    }
}

/// The heartbeat's signature travels in a header over the exact body bytes (their SHA-256), not
/// over a canonical encoding of the fields: the heartbeat gains fields as the fleet grows, and a
/// fixed field encoding would need a new tag for each one. The hub verifies the bytes it received
/// and decodes those same bytes, so no JSON spelling question arises. No date window is enforced
/// (a kiosk with a wrong clock must still be heard — that is one of the things it reports);
/// replays are refused by `bootId` + `sequence` instead.
public enum HeartbeatAuth {
    public static let header = "X-Pingjia-Signature"
    public static let scheme = "PJHB1"

    /// The header value for `body`, signed with the device key.
    public static func sign(deviceId: String, body: [UInt8], key: SigningKey) -> String {
        "\(scheme) " + key.sign(SignatureInput.heartbeat(deviceId: deviceId, bodyDigest: Array(SHA256.hash(data: body))))
    }

    /// True when `header` is the device key's signature over exactly `body`.
    public static func verify(deviceId: String, body: [UInt8], header: String?, key: PublicKey) -> Bool {
        guard let header, header.hasPrefix(scheme + " ") else { return false }
        let signature = String(header.dropFirst(scheme.count + 1))
        return key.isValid(signature: signature,
                           for: SignatureInput.heartbeat(deviceId: deviceId, bodyDigest: Array(SHA256.hash(data: body))))
    }
}

extension SignatureInput {
    /// A heartbeat: `"PJHB1" text deviceId 32 bytes SHA-256(body)`.
    public static func heartbeat(deviceId: String, bodyDigest: [UInt8]) -> [UInt8] {
        var out = Array("PJHB1".utf8)
        append(deviceId, &out)
        out += bodyDigest
        return out
    }

    /// A heartbeat answer: `"PJHA1" text deviceId u64 sequence text serverTime u64 configVersion+1`
    /// (0 when the hub holds no configuration for the device).
    public static func heartbeatAnswer(deviceId: String, sequence: UInt64, serverTime: String, configVersion: Int?) -> [UInt8] {
        var out = Array("PJHA1".utf8)
        append(deviceId, &out)
        append(sequence, &out)
        append(serverTime, &out)
        append(configVersion.map { UInt64(max($0, 0)) + 1 } ?? 0, &out)
        return out
    }
}

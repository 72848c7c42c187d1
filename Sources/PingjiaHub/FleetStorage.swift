import Foundation
import PingjiaCore
import PingjiaSyncProtocol

/// The hub's fleet data: the latest heartbeat of each device, alerts and their webhook
/// deliveries. Implemented by both backends (`SQLiteHubStorage+Fleet.swift`,
/// `PostgresHubStorage+Fleet.swift`); each method is one transaction.
public protocol FleetStorage: Sendable {
    /// Keeps `heartbeat` as the device's latest (no history: one row per device, replaced).
    /// Refused as `.stale` when the same boot already sent this sequence or a later one.
    func recordHeartbeat(_ heartbeat: StoredHeartbeat) async throws(HubError) -> HeartbeatOutcome
    func latestHeartbeat(deviceId: String) async throws(HubError) -> StoredHeartbeat?
    /// Every enrolled or revoked device with its latest heartbeat and open alerts.
    func fleet() async throws(HubError) -> [FleetDevice]

    /// One evaluation round, safe with several hub instances (one at a time, under a lock):
    /// reads the fleet, asks `conditions` which conditions hold now, raises the alerts that are
    /// new, clears those whose condition ended, raises one `bad-rating` alert per new bad rating
    /// (GB/T code 4-5, unflagged) received since the last round, clears bad-rating alerts older
    /// than `badRatingOpenFor`, and queues one delivery per event and webhook.
    func evaluateAlerts(now: Date, badRatingOpenFor: TimeInterval, webhooks: [String],
                        conditions: @Sendable ([FleetDevice]) -> [AlertCondition]) async throws(HubError) -> [AlertEvent]
    /// Alerts, newest first: open ones only, or also the cleared ones.
    func alerts(includeCleared: Bool, limit: Int) async throws(HubError) -> [FleetAlert]

    /// Takes up to `limit` deliveries that are due and leases them for `lease` so no other hub
    /// instance sends them meanwhile.
    func claimDeliveries(now: Date, lease: TimeInterval, limit: Int) async throws(HubError) -> [WebhookDelivery]
    /// Marks a delivery delivered (`retryAt` nil) or schedules its next attempt.
    func finishDelivery(id: Int64, deliveredAt: Date?, retryAt: Date?, error: String?) async throws(HubError)
    func deliveries() async throws(HubError) -> [WebhookDelivery]
}

/// A heartbeat as the hub keeps it: the body as received (already verified) and what the hub
/// measured on receipt.
public struct StoredHeartbeat: Sendable, Equatable {
    public let heartbeat: Heartbeat
    public let receivedAt: String
    /// Device clock minus hub clock, from `sentAt`, in ms.
    public let clockOffsetMs: Int64?

    public init(heartbeat: Heartbeat, receivedAt: String, clockOffsetMs: Int64?) {
        self.heartbeat = heartbeat
        self.receivedAt = receivedAt
        self.clockOffsetMs = clockOffsetMs
    }
}

public enum HeartbeatOutcome: Sendable, Equatable {
    case stored
    /// Not newer than the one held (a replay or a late duplicate).
    case stale
}

/// One row of the fleet view.
public struct FleetDevice: Sendable, Equatable {
    public let device: DeviceEntry
    public let heartbeat: StoredHeartbeat?
    public let openAlerts: [String]

    public init(device: DeviceEntry, heartbeat: StoredHeartbeat?, openAlerts: [String]) {
        self.device = device
        self.heartbeat = heartbeat
        self.openAlerts = openAlerts
    }

    /// The last time the hub heard from the device: a heartbeat or a batch, whichever is later.
    public var lastSeen: String? {
        [heartbeat?.receivedAt, device.lastBatchAt].compactMap { $0 }.max()
    }

    /// Records the device holds that the hub does not (from the device's last heartbeat).
    public var syncLag: UInt64? {
        guard let last = heartbeat?.heartbeat.lastSeq else { return nil }
        return last > device.lastSeq ? last - device.lastSeq : 0
    }
}

/// A condition that holds now for a device (`AlertRules` decides them).
public struct AlertCondition: Sendable, Equatable, Hashable {
    public let deviceId: String
    public let kind: String
    public let detail: String

    public init(deviceId: String, kind: String, detail: String) {
        self.deviceId = deviceId
        self.kind = kind
        self.detail = detail
    }
}

public struct FleetAlert: Sendable, Equatable, Codable {
    public let id: Int64
    public let deviceId: String
    public let hall: String?
    public let kind: String
    /// For a bad rating: the rating's id; empty for a condition.
    public let ref: String
    public let detail: String
    public let raisedAt: String
    public let clearedAt: String?
}

public struct AlertEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case raised, cleared }
    public let event: Kind
    public let alert: FleetAlert
}

public struct WebhookDelivery: Sendable, Equatable {
    public let id: Int64
    public let webhook: String
    public let event: AlertEvent
    public let attempts: Int
    public let deliveredAt: String?
    public let lastError: String?
}

/// What one evaluation round changes, worked out the same way for both backends: the conditions
/// that hold and have no open alert are raised; open condition alerts whose condition no longer
/// holds are cleared. Bad-rating alerts are events, not conditions, and are left alone here.
struct AlertDiff {
    var raise: [AlertCondition] = []
    var clear: [Int64] = []

    init(open: [(id: Int64, deviceId: String, kind: String)], holding: [AlertCondition]) {
        let openKeys = Set(open.map { "\($0.deviceId)\u{0}\($0.kind)" })
        var seen = Set<String>()
        for condition in holding {
            let key = "\(condition.deviceId)\u{0}\(condition.kind)"
            if !openKeys.contains(key) && seen.insert(key).inserted { raise.append(condition) }
        }
        let holdingKeys = Set(holding.map { "\($0.deviceId)\u{0}\($0.kind)" })
        clear = open.filter { $0.kind != FleetAlertKind.badRating && !holdingKeys.contains("\($0.deviceId)\u{0}\($0.kind)") }.map { $0.id }
    }
}

/// The alert kinds (stable tokens: webhooks and the admin page show them).
public enum FleetAlertKind {
    public static let offline = "offline"
    public static let outboxStale = "outbox-stale"
    public static let deadLetter = "dead-letter"
    public static let clockOffset = "clock-offset"
    public static let keypadMissing = "keypad-missing"
    public static let diskLow = "disk-low"
    public static let storeRecovered = "store-recovered"
    public static let badRating = "bad-rating"
}

/// A bad rating found by the alert round's scan of newly received records.
struct BadRatingFound {
    let deviceId: String
    let ratingId: String
    let detail: String

    /// GB/T 39046 codes 4 (不满意) and 5 (非常不满意), on a rating kind record without flags (a
    /// flagged press does not count in statistics, so it does not alert either).
    static func isBad(kind: String, code: Int, flags: [String]) -> Bool {
        kind == "rating" && (code == 4 || code == 5) && flags.isEmpty
    }

    static func describe(code: Int, staffId: String?, windowId: String?, ratedAt: String, channel: String) -> String {
        let label = code == 5 ? "非常不满意" : "不满意"
        return "差评 \(label) (code \(code)) at window \(windowId ?? "-"), staff \(staffId ?? "-"), \(channel), rated \(ratedAt)"
    }
}

extension AlertEvent {
    /// The stored form of an event (the delivery's body before its delivery id is added).
    var storedJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func fromStored(_ text: String) -> AlertEvent? {
        try? JSONDecoder().decode(AlertEvent.self, from: Data(text.utf8))
    }
}

extension StoredHeartbeat {
    static func decode(body: String, receivedAt: String, clockOffsetMs: Int64?) -> StoredHeartbeat? {
        guard let heartbeat = try? JSONDecoder().decode(Heartbeat.self, from: Data(body.utf8)) else { return nil }
        return StoredHeartbeat(heartbeat: heartbeat, receivedAt: receivedAt, clockOffsetMs: clockOffsetMs)
    }

    var bodyJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(heartbeat)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

import Foundation
import PingjiaSyncProtocol

/// One row per device, as `pingjia-hub fleet` and the fleet admin page show it.
public struct FleetRow: Sendable, Equatable, Codable {
    public let deviceId: String
    public let hall: String
    public let name: String
    public let status: String
    /// The last heartbeat or batch (ISO 8601 UTC); nil when never heard from.
    public let lastSeen: String?
    public let version: String?
    /// Ratings the device holds that its hub has not acknowledged (device's last heartbeat).
    public let outboxDepth: UInt64?
    /// Records the device has that the hub does not hold yet.
    public let syncLag: UInt64?
    /// Age of the oldest unacknowledged rating, seconds.
    public let oldestUnackedAgeSeconds: Int64?
    public let openAlerts: [String]

    /// Something an operator should look at: an open alert about the device itself (a bad
    /// rating is about the service, not the device), or a device never heard from.
    public var needsAttention: Bool {
        status == DeviceEntry.Status.active.rawValue
            && (lastSeen == nil || openAlerts.contains { $0 != FleetAlertKind.badRating })
    }
}

public enum FleetSort: String, Sendable, CaseIterable {
    case hall, name, lastSeen = "last-seen", version, outbox, lag, alerts

    /// Most interesting first for the numeric columns (oldest seen, biggest backlog, most alerts).
    func ordered(_ a: FleetRow, _ b: FleetRow) -> Bool? {
        switch self {
        case .hall: a.hall == b.hall ? nil : a.hall < b.hall
        case .name: a.name == b.name ? nil : a.name < b.name
        case .lastSeen: a.lastSeen == b.lastSeen ? nil : (a.lastSeen ?? "") < (b.lastSeen ?? "")
        case .version: a.version == b.version ? nil : (a.version ?? "") < (b.version ?? "")
        case .outbox: a.outboxDepth == b.outboxDepth ? nil : (a.outboxDepth ?? 0) > (b.outboxDepth ?? 0)
        case .lag: a.syncLag == b.syncLag ? nil : (a.syncLag ?? 0) > (b.syncLag ?? 0)
        case .alerts: a.openAlerts.count == b.openAlerts.count ? nil : a.openAlerts.count > b.openAlerts.count
        }
    }
}

public enum FleetView {
    public static func rows(_ fleet: [FleetDevice], hall: String? = nil, attentionOnly: Bool = false,
                            sort: FleetSort = .hall) -> [FleetRow] {
        let rows = fleet.compactMap { entry -> FleetRow? in
            guard let id = entry.device.deviceId, hall == nil || entry.device.hall == hall else { return nil }
            let beat = entry.heartbeat?.heartbeat
            return FleetRow(deviceId: id, hall: entry.device.hall, name: entry.device.name, status: entry.device.status.rawValue,
                            lastSeen: entry.lastSeen, version: beat?.version, outboxDepth: beat?.outboxDepth, syncLag: entry.syncLag,
                            oldestUnackedAgeSeconds: beat?.oldestUnackedAgeSeconds, openAlerts: entry.openAlerts)
        }.filter { !attentionOnly || $0.needsAttention }
        // Ties fall back to hall, then name, so the order is stable.
        return rows.sorted { a, b in
            sort.ordered(a, b) ?? FleetSort.hall.ordered(a, b) ?? FleetSort.name.ordered(a, b) ?? (a.deviceId < b.deviceId)
        }
    }

    /// The plain-text table of `pingjia-hub fleet`.
    public static func table(_ rows: [FleetRow]) -> String {
        let header = ["HALL", "NAME", "DEVICE", "LAST SEEN", "VERSION", "OUTBOX", "LAG", "ALERTS"]
        let lines = rows.map { row in
            [row.hall, row.name, row.deviceId + (row.status == "active" ? "" : " (\(row.status))"), row.lastSeen ?? "never",
             row.version ?? "-", row.outboxDepth.map(String.init) ?? "-", row.syncLag.map(String.init) ?? "-",
             row.openAlerts.isEmpty ? "-" : row.openAlerts.joined(separator: ",")]
        }
        let all = [header] + lines
        let widths = header.indices.map { column in all.map { displayWidth($0[column]) }.max() ?? 0 }
        return all.map { cells in
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - displayWidth(cell) + 2)
            }.joined()
        }.joined(separator: "\n")
    }

    /// Columns line up in a terminal: a CJK character takes two cells.
    static func displayWidth(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { $0 + ($1.properties.isIdeographic || (0xFF00...0xFFEF).contains($1.value) ? 2 : 1) }
    }
}

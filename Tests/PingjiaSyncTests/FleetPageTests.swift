import Foundation
@testable import PingjiaHub
import PingjiaSyncProtocol
import Testing

/// The fleet page and table as pure functions of the fleet: hall scope, the attention filter,
/// sorting, escaping.
@Suite struct FleetPageTests {
    static func device(_ id: String, hall: String, name: String, lastBatchAt: String?, lastSeq: UInt64 = 0) -> DeviceEntry {
        DeviceEntry(slot: 1, hall: hall, name: name, deviceId: id, publicKey: nil, status: .active, createdAt: "2026-11-01T00:00:00.000Z",
                    codeExpiresAt: nil, lastSeq: lastSeq, headHash: "", clockOffsetMs: nil, lastBatchAt: lastBatchAt, pullURL: nil)
    }

    static func beat(_ id: String, depth: UInt64, lastSeq: UInt64, version: String) -> StoredHeartbeat {
        StoredHeartbeat(heartbeat: Heartbeat(deviceId: id, bootId: "b", sequence: 1, sentAt: "", version: version, uptimeSeconds: 1,
                                             outboxDepth: depth, oldestUnackedAgeSeconds: nil, ackedSeq: 0, lastSeq: lastSeq, deadLetter: nil,
                                             storeHealth: "ok", diskFreeBytes: nil, clockOffsetMs: nil, windows: [], lastRatingAt: nil),
                        receivedAt: "2026-11-29T10:00:00.000Z", clockOffsetMs: 0)
    }

    static let fleet = [
        FleetDevice(device: device("pj-00000000000a", hall: "东城大厅", name: "1号<窗口>", lastBatchAt: "2026-11-29T09:00:00.000Z", lastSeq: 10),
                    heartbeat: beat("pj-00000000000a", depth: 5, lastSeq: 15, version: "0.1.0"), openAlerts: ["offline"]),
        FleetDevice(device: device("pj-00000000000b", hall: "东城大厅", name: "2号窗口", lastBatchAt: nil),
                    heartbeat: beat("pj-00000000000b", depth: 0, lastSeq: 0, version: "0.2.0"), openAlerts: ["bad-rating"]),
        FleetDevice(device: device("pj-00000000000c", hall: "西城大厅", name: "1号窗口", lastBatchAt: "2026-11-29T11:00:00.000Z"),
                    heartbeat: nil, openAlerts: []),
    ]

    @Test func rowsFilterSortAndNeedAttention() {
        let rows = FleetView.rows(Self.fleet)
        #expect(rows.map(\.deviceId) == ["pj-00000000000a", "pj-00000000000b", "pj-00000000000c"])
        #expect(rows[0].syncLag == 5 && rows[0].outboxDepth == 5 && rows[0].lastSeen == "2026-11-29T10:00:00.000Z")
        #expect(rows[2].version == nil && rows[2].syncLag == nil)
        // A device alert needs attention; a 差评 alone does not.
        #expect(FleetView.rows(Self.fleet, attentionOnly: true).map(\.deviceId) == ["pj-00000000000a"])
        #expect(FleetView.rows(Self.fleet, hall: "西城大厅").map(\.deviceId) == ["pj-00000000000c"])
        #expect(FleetView.rows(Self.fleet, sort: .outbox).first?.deviceId == "pj-00000000000a")
        #expect(FleetView.rows(Self.fleet, sort: .lastSeen).map(\.deviceId) == ["pj-00000000000a", "pj-00000000000b", "pj-00000000000c"])
        #expect(FleetView.rows(Self.fleet, sort: .version).last?.deviceId == "pj-00000000000b")
        let table = FleetView.table(rows)
        #expect(table.split(separator: "\n").count == 4 && table.hasPrefix("HALL"))
    }

    @Test func aHallManagerSeesTheirHallOnlyAndValuesAreEscaped() {
        let alerts = [
            FleetAlert(id: 1, deviceId: "pj-00000000000a", hall: "东城大厅", kind: "offline", ref: "", detail: "nothing heard <since>",
                       raisedAt: "2026-11-29T10:20:00.000Z", clearedAt: nil),
            FleetAlert(id: 2, deviceId: "pj-00000000000c", hall: "西城大厅", kind: "disk-low", ref: "", detail: "12 MiB free",
                       raisedAt: "2026-11-29T10:21:00.000Z", clearedAt: nil),
        ]
        let east = FleetPage.render(fleet: Self.fleet, alerts: alerts, hall: "东城大厅", query: .init(), path: "/admin/fleet")
        #expect(east.contains("pj-00000000000a") && east.contains("pj-00000000000b"))
        #expect(!east.contains("pj-00000000000c") && !east.contains("西城大厅") && !east.contains("12 MiB"))
        #expect(east.contains("1号&lt;窗口&gt;") && east.contains("nothing heard &lt;since&gt;"))
        #expect(east.contains("href=\"/admin/fleet?sort=outbox\""))
        #expect(east.contains("href=\"/admin/fleet?sort=hall&amp;attention=1\""))
        let attention = FleetPage.render(fleet: Self.fleet, alerts: alerts, hall: nil, query: .init(sort: "last-seen", attention: "1"),
                                         path: "/admin/fleet")
        let deviceTable = attention.components(separatedBy: "<h2>")[0]
        #expect(deviceTable.contains("<td>pj-00000000000a</td>"))
        #expect(!deviceTable.contains("<td>pj-00000000000b</td>") && !deviceTable.contains("<td>pj-00000000000c</td>"))
        #expect(attention.contains("12 MiB free"), "an auditor sees every hall's alerts")
        #expect(attention.contains("href=\"/admin/fleet?sort=last-seen\""))
    }
}

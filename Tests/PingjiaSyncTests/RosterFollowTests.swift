import Foundation
import PingjiaConfig
import PingjiaCore
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// A kiosk follows its hall's roster as the hub holds it: over loopback HTTP, signed by the hub,
/// a 304 while unchanged, imported whole when it changes, refused when not signed by the hub the
/// kiosk enrolled with; and the hub sees from heartbeats which kiosks hold its roster.
@Suite struct RosterFollowTests {
    static func person(_ id: String, _ name: String, window: String, windowName: String) -> HubStaff {
        HubStaff(staff: Staff(id: id, name: name, windowId: window, photo: nil, matters: []), windowName: windowName)
    }

    static func rosterState(_ hub: HubHarness, _ deviceId: String) async throws -> String? {
        try await Hub.remoteConfigStatus(hub.storage).first { $0.deviceId == deviceId }?.roster
    }

    @Test(arguments: Backend.all)
    func aKioskFollowsItsHallsRosterAndTheHubSeesIt(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            // Set up on site: a photo the hub does not have, and a person the hub does not list.
            _ = try device.store.importRoster(
                staff: [Staff(id: "A1001", name: "张三", windowId: "1", photo: "zhang.jpg", matters: []),
                        Staff(id: "L0009", name: "临时", windowId: "9", photo: nil, matters: [])],
                windows: [ServiceWindow(id: "1", name: "1号窗口"), ServiceWindow(id: "9", name: "9号窗口")], replace: false)
            let config = try EffectiveConfig.loadLocal(device.location).config
            let follower = try #require(try SyncSetup.rosterFollower(location: device.location, config: config, store: device.store))
            var hooks = HeartbeatService.Hooks()
            hooks.appliedRosterDigest = { follower.appliedDigest }
            let heartbeat = try heartbeatService(device, baseURL: hub.url, hooks: hooks)

            // The hub holds no roster for the hall: the local one stays.
            #expect(await follower.step() == .noRoster)
            #expect(try device.store.staff().map(\.id) == ["A1001", "L0009"])
            #expect(try await Self.rosterState(hub, device.deviceId) == "none")

            _ = try await hub.storage.importHubRoster(hall: "测试大厅", staff: [
                Self.person("A1001", "张三", window: "1", windowName: "综合受理"),
                Self.person("A1002", "李四", window: "2", windowName: "税务窗口"),
            ], photos: [:], replace: true, now: Date())
            #expect(try await Self.rosterState(hub, device.deviceId) == "unknown", "no heartbeat has named a roster yet")
            #expect(await follower.step() == .applied(hall: "测试大厅", added: 1, updated: 1, removed: 1))
            var staff = try device.store.staff()
            #expect(staff.map(\.id) == ["A1001", "A1002"], "the hub's roster is the hall's whole roster")
            #expect(staff.first?.photo == "zhang.jpg", "photos stay the kiosk's")
            #expect(try device.store.windows().first { $0.id == "2" }?.name == "税务窗口")
            #expect(await follower.step() == .unchanged)
            // Restarted, the kiosk has forgotten the digest: the roster in place is not written again.
            let restarted = try #require(try SyncSetup.rosterFollower(location: device.location, config: config, store: device.store))
            #expect(await restarted.step() == .unchanged)
            #expect(restarted.appliedDigest != nil && restarted.appliedDigest == follower.appliedDigest)
            await restarted.transport.shutdown()
            guard case .success = await heartbeat.beat() else { Issue.record("the heartbeat did not get through"); return }
            #expect(try await Self.rosterState(hub, device.deviceId) == "current")

            // A change on the hub reaches the kiosk at its next step; until then the hub shows it behind.
            _ = try await hub.storage.importHubRoster(hall: "测试大厅", staff: [
                Self.person("A1001", "张三", window: "1", windowName: "综合受理"),
                Self.person("A1002", "李思", window: "2", windowName: "税务窗口"),
            ], photos: [:], replace: true, now: Date())
            #expect(try await Self.rosterState(hub, device.deviceId) == "behind")
            #expect(await follower.step() == .applied(hall: "测试大厅", added: 0, updated: 2, removed: 0))
            staff = try device.store.staff()
            #expect(staff.map(\.name) == ["张三", "李思"])
            guard case .success = await heartbeat.beat() else { Issue.record("the heartbeat did not get through"); return }
            #expect(try await Self.rosterState(hub, device.deviceId) == "current")

            // A kiosk that trusts another hub key imports nothing this hub signs.
            _ = try await hub.storage.importHubRoster(hall: "测试大厅", staff: [Self.person("A1003", "王五", window: "3", windowName: "3号窗口")],
                                                      photos: [:], replace: false, now: Date())
            let misled = RosterFollower(store: device.store, key: try SigningKey.load(path: Enrollment.keyFile(device.location), create: false),
                                        hubKey: SigningKey().publicKey, transport: try HTTPHubTransport(baseURL: hub.url))
            guard case .failed(let reason) = await misled.step() else { Issue.record("a roster signed by another key was taken"); return }
            #expect(reason.contains("not signed by the hub this kiosk enrolled with"), "\(reason)")
            #expect(try device.store.staff().map(\.name) == ["张三", "李思"])
            await misled.transport.shutdown()

            // Requests not signed by the device get nothing.
            let unsigned = try await HubHTTPTests.send(hub, "GET", "/v1/devices/\(device.deviceId)/roster", body: nil)
            #expect(unsigned.status == 401)

            await follower.transport.shutdown()
            await heartbeat.transport.shutdown()
            await hub.stop()
        }
    }
}

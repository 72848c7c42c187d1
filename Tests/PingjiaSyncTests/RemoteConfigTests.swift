import Foundation
import PingjiaConfig
import PingjiaCore
@testable import PingjiaHub
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// Remote configuration on both hub backends: documents per hall and per device, versions that
/// only go up, hall under device, what each device did with its version; and a kiosk fetching its
/// signed document over loopback HTTP, applying it, refusing what it cannot use.
@Suite struct RemoteConfigTests {
    static let hallDocument = """
        [rating]
        scale = "three"

        [session]
        mode = "open"
        timeout_ms = 20000

        """

    @Test(arguments: Backend.all)
    func versionsPrecedenceAndStatusAreStored(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let storage = try await backend.open(try backend.newDatabase(in: dir))
            let hub = Hub(storage: storage, key: SigningKey(), logger: quietLogger)
            func enroll(_ hall: String, _ id: String) async throws {
                let code = try await hub.addDevice(hall: hall, name: id).code
                _ = try await hub.enroll(EnrollRequest(code: code, deviceId: id, publicKey: SigningKey().publicKey.base64))
            }
            try await enroll("市民中心", "pj-000000000001")
            try await enroll("市民中心", "pj-000000000002")
            try await enroll("税务大厅", "pj-000000000003")
            #expect(try await storage.remoteConfig(deviceId: "pj-000000000001") == nil)

            let first = try await hub.setConfig(.hall("市民中心"), document: Self.hallDocument, file: "hall.toml")
            #expect(first.map(\.deviceId) == ["pj-000000000001", "pj-000000000002"] && first.map(\.version) == [1, 1])
            // The same document again changes nothing and bumps no version.
            #expect(try await hub.setConfig(.hall("市民中心"), document: Self.hallDocument, file: "hall.toml").isEmpty)
            let device = try await hub.setConfig(.device("pj-000000000001"), document: "[session]\nmode = \"armed\"\n", file: "d.toml")
            #expect(device.map(\.deviceId) == ["pj-000000000001"] && device.map(\.version) == [2])
            let second = try await hub.setConfig(.hall("市民中心"), document: "[rating]\nscale = \"five\"\n", file: "hall.toml")
            #expect(second.map(\.version) == [3, 2])

            #expect(try await storage.configVersion(deviceId: "pj-000000000001") == 3)
            #expect(try await storage.configVersion(deviceId: "pj-000000000003") == nil)
            let one = try #require(try await storage.remoteConfig(deviceId: "pj-000000000001"))
            #expect(one.version == 3 && one.hall == "市民中心" && one.hallDocument == "[rating]\nscale = \"five\"\n")
            #expect(one.deviceDocument == "[session]\nmode = \"armed\"\n")
            #expect(try await storage.remoteConfig(deviceId: "pj-000000000002")?.deviceDocument == nil)
            #expect(try await storage.remoteConfig(deviceId: "pj-000000000003") == nil)
            // Device over hall.
            let effective = try #require(try await hub.effectiveConfig(deviceId: "pj-000000000001"))
            #expect(effective.layer.scale == "five" && effective.layer.session.mode == .armed)

            // A device enrolled after its hall's document starts at version 1.
            try await enroll("市民中心", "pj-000000000004")
            #expect(try await storage.remoteConfigStatus().first { $0.deviceId == "pj-000000000004" }?.latestVersion == 1)
            #expect(try await storage.configVersion(deviceId: "pj-000000000004") == 1)
            #expect(try await storage.remoteConfig(deviceId: "pj-000000000004")?.version == 1)

            await #expect(throws: HubError.unknownDevice("pj-00000000000f")) {
                _ = try await hub.setConfig(.device("pj-00000000000f"), document: "", file: "d.toml")
            }
            // Refused by the kiosk's validator, with file:line; nothing stored.
            do {
                _ = try await hub.setConfig(.hall("市民中心"), document: "[session]\nmode = \"sometimes\"\n[web]\nlisten = \"0.0.0.0:80\"\n",
                                            file: "bad.toml")
                Issue.record("an invalid document was accepted")
            } catch let error as HubError {
                #expect(error.description.contains("bad.toml:2: mode 'sometimes' must be"), "\(error)")
                #expect(error.description.contains("bad.toml:3: [web] cannot be set remotely"), "\(error)")
            }
            #expect(try await storage.configDocument(.hall("市民中心")) == "[rating]\nscale = \"five\"\n")

            try await hub.recordConfigResult(deviceId: "pj-000000000001", ConfigResult(version: 3, applied: false, reason: "no scale", overrides: []))
            try await hub.recordConfigResult(deviceId: "pj-000000000002", ConfigResult(version: 2, applied: true, reason: nil,
                                                                                      overrides: ["session.mode"]))
            var status = Dictionary(uniqueKeysWithValues: try await storage.remoteConfigStatus().map { ($0.deviceId, $0) })
            #expect(status["pj-000000000001"]?.latestVersion == 3 && status["pj-000000000001"]?.appliedVersion == nil)
            #expect(status["pj-000000000001"]?.refusedVersion == 3 && status["pj-000000000001"]?.refusedReason == "no scale")
            #expect(status["pj-000000000002"]?.appliedVersion == 2 && status["pj-000000000002"]?.overrides == ["session.mode"])
            #expect(status["pj-000000000003"]?.latestVersion == nil && status["pj-000000000003"]?.hall == "税务大厅")
            // A heartbeat fills in what a lost result request would have said, and only that.
            try await storage.recordHeartbeatConfig(deviceId: "pj-000000000002", applied: 2, refused: nil, at: Date().addingTimeInterval(60))
            let unchanged = try await storage.remoteConfigStatus().first { $0.deviceId == "pj-000000000002" }
            #expect(unchanged?.appliedAt == status["pj-000000000002"]?.appliedAt)
            try await storage.recordHeartbeatConfig(deviceId: "pj-000000000002", applied: 1, refused: (3, "lost"), at: Date())
            let late = try await storage.remoteConfigStatus().first { $0.deviceId == "pj-000000000002" }
            #expect(late?.appliedVersion == 2 && late?.refusedVersion == 3 && late?.refusedReason == "lost")
            try await storage.recordHeartbeatConfig(deviceId: "pj-000000000002", applied: 3, refused: nil, at: Date())
            let caughtUp = try await storage.remoteConfigStatus().first { $0.deviceId == "pj-000000000002" }
            #expect(caughtUp?.appliedVersion == 3 && caughtUp?.refusedVersion == nil)
            // A later applied version clears the refusal.
            try await hub.recordConfigResult(deviceId: "pj-000000000001", ConfigResult(version: 4, applied: true, reason: nil, overrides: []))
            status = Dictionary(uniqueKeysWithValues: try await storage.remoteConfigStatus().map { ($0.deviceId, $0) })
            #expect(status["pj-000000000001"]?.appliedVersion == 4 && status["pj-000000000001"]?.refusedVersion == nil)
            await storage.close()
        }
    }

    @Test(arguments: Backend.all)
    func aKioskFetchesAppliesAndRefusesOverHTTP(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            // The local file sets the session timeout: it wins over the hub's.
            try "[session]\ntimeout_ms = 15000\n".write(toFile: device.location.configFile, atomically: true, encoding: .utf8)
            let live = LiveConfig(try EffectiveConfig.loadLocal(device.location))
            let scales = ScaleCatalog.standard(for: device.location)
            let client = try #require(try SyncSetup.remoteConfig(location: device.location, deviceId: device.deviceId, live: live,
                                                                 scales: scales, logger: quietLogger))
            #expect(await client.sync() == .none)

            _ = try await hub.hub.setConfig(.hall("测试大厅"), document: Self.hallDocument, file: "hall.toml")
            #expect(await client.sync() == .applied(version: 1, overrides: ["session.timeout_ms"]))
            #expect(live.config.scale == "three" && live.config.sessions.mode == .open && live.config.sessions.timeoutMs == 15000)
            #expect(try AppliedRemoteConfig.load(device.location)?.version == 1)
            #expect(await client.sync() == .unchanged(version: 1))
            var status = try await hub.storage.remoteConfigStatus().first { $0.deviceId == device.deviceId }
            #expect(status?.appliedVersion == 1 && status?.overrides == ["session.timeout_ms"])

            // Valid for the hub, but this kiosk has no such scale: refused, the old config stays.
            _ = try await hub.hub.setConfig(.device(device.deviceId), document: "[rating]\nscale = \"seven\"\n", file: "d.toml")
            guard case .refused(2, let reason) = await client.sync() else { Issue.record("version 2 not refused"); return }
            #expect(reason.contains("seven"), "\(reason)")
            #expect(live.config.scale == "three" && live.current.remoteVersion == 1)
            #expect(try AppliedRemoteConfig.load(device.location)?.version == 1)
            status = try await hub.storage.remoteConfigStatus().first { $0.deviceId == device.deviceId }
            #expect(status?.latestVersion == 2 && status?.appliedVersion == 1 && status?.refusedVersion == 2)
            #expect(status?.refusedReason?.contains("seven") == true, "\(String(describing: status))")

            // A document signed by another key than the enrolled hub's is refused whatever it says.
            let forged = SignedConfig(deviceId: device.deviceId, version: 9, hallDocument: "[rating]\nscale = \"five\"\n", deviceDocument: nil,
                                      issuedAt: WireTime.format(Date()), key: SigningKey())
            #expect(client.apply(forged) == .refused(version: 9, reason: "the document is not signed by the hub this kiosk enrolled with"))
            #expect(live.config.scale == "three")
            // The same through the hub: a kiosk that trusts another hub key refuses what this hub
            // signs, and the reason reaches `config status`.
            let key = try SigningKey.load(path: Enrollment.keyFile(device.location), create: false)
            let transport = try HTTPHubTransport(baseURL: hub.url)
            let misled = RemoteConfigClient(location: device.location, deviceId: device.deviceId, key: key, hubKey: SigningKey().publicKey,
                                            transport: transport, live: live, scales: scales, logger: quietLogger)
            #expect(await misled.sync() == .refused(version: 2, reason: "the document is not signed by the hub this kiosk enrolled with"))
            await transport.shutdown()
            status = try await hub.storage.remoteConfigStatus().first { $0.deviceId == device.deviceId }
            #expect(status?.refusedReason == "the document is not signed by the hub this kiosk enrolled with")
            #expect(live.config.scale == "three" && live.current.remoteVersion == 1)

            // Requests not signed by the device get nothing.
            let unsigned = try await HubHTTPTests.send(hub, "GET", "/v1/devices/\(device.deviceId)/config", body: nil)
            #expect(unsigned.status == 401 && HubHTTPTests.problem(unsigned)?.type == Problem.Kind.badSignature)

            _ = try await hub.hub.setConfig(.device(device.deviceId), document: "[rating]\nscale = \"five\"\n", file: "d.toml")
            #expect(await client.sync() == .applied(version: 3, overrides: ["session.timeout_ms"]))
            #expect(live.config.scale == "five")
            status = try await hub.storage.remoteConfigStatus().first { $0.deviceId == device.deviceId }
            #expect(status?.appliedVersion == 3 && status?.refusedVersion == nil)
            await client.transport.shutdown()
            await hub.stop()
        }
    }

    @Test(arguments: Backend.all)
    func theAdminPageShowsEachHallOnlyItsDevices(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir, backend: backend)
            try await hub.start()
            do {
                _ = try await StoredDevice.make(hub.storage, hall: "东城大厅", id: "pj-0000000000e1")
                _ = try await StoredDevice.make(hub.storage, hall: "西城大厅", id: "pj-0000000000a1")
                _ = try await hub.hub.setConfig(.hall("东城大厅"), document: Self.hallDocument, file: "hall.toml")
                try await hub.hub.recordConfigResult(deviceId: "pj-0000000000e1",
                                                     ConfigResult(version: 1, applied: false, reason: "<no scale 'x'>", overrides: []))
                try await addTestUser(hub.storage, "wang", role: .manager, hall: "东城大厅", password: "correct horse battery")
                try await addTestUser(hub.storage, "zhao", role: .auditor, hall: nil, password: "correct horse battery")
                let browser = TestBrowser(hub.url)
                let anonymous = try await browser.get("/admin/config")
                #expect(anonymous.status == 303 && anonymous.header("Location").first?.hasPrefix("/admin/login") == true)
                #expect(try await browser.signIn("wang", "correct horse battery").status == 303)
                let manager = try await browser.get("/admin/config")
                #expect(manager.status == 200 && manager.body.contains("pj-0000000000e1") && !manager.body.contains("pj-0000000000a1"))
                // The device's reason, escaped, in the refused row.
                #expect(manager.body.contains("<td>&lt;no scale &#39;x&#39;&gt;</td>") || manager.body.contains("<td>&lt;no scale 'x'&gt;</td>"),
                        "\(manager.body)")
                browser.cookies = [:]
                #expect(try await browser.signIn("zhao", "correct horse battery").status == 303)
                let auditor = try await browser.get("/admin/config")
                #expect(auditor.body.contains("pj-0000000000e1") && auditor.body.contains("pj-0000000000a1"))
                await browser.shutdown()
            } catch {
                await hub.stop()
                throw error
            }
            await hub.stop()
        }
    }
}

import Foundation
import PingjiaCore
import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// A heartbeat service for a test device, talking to `baseURL`.
func heartbeatService(_ device: TestDevice, baseURL: String, hooks: HeartbeatService.Hooks = .init(),
                      key: SigningKey? = nil) throws -> HeartbeatService {
    guard let enrollment = device.enrollment else { throw HarnessError("enroll the device first") }
    var settings = HeartbeatSettings()
    settings.version = "9.8.7"
    settings.interval = .milliseconds(200)
    settings.changePoll = .milliseconds(20)
    return HeartbeatService(store: device.store, key: try key ?? SigningKey.load(path: Enrollment.keyFile(device.location), create: false),
                            hubKey: PublicKey(base64: enrollment.hubPublicKey)!,
                            transport: try HTTPHubTransport(baseURL: baseURL, timeout: .seconds(30)), settings: settings, hooks: hooks,
                            logger: quietLogger)
}

/// A port nothing listens on (bound once, then closed).
func deadPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw HarnessError("cannot bind a loopback port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

@Suite struct HeartbeatTests {
    /// Every field of a heartbeat arrives at the hub as the device knows it.
    @Test(arguments: Backend.all)
    func heartbeatCarriesEveryFieldToTheHub(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            try await device.rate(5)
            let newest = try device.store.records(after: 4, limit: 1)[0].rating.ratedAt
            let oldest = try device.store.records(after: 0, limit: 1)[0].rating.ratedAt
            var hooks = HeartbeatService.Hooks()
            let window = Heartbeat.WindowReport(window: "3", staffId: "A1023", staffStatus: "signed-in",
                                                devices: [.init(profile: "pj-5key", port: "1-1.2")], keypadExpected: true)
            hooks.snapshot = { KioskSnapshot(windows: [window], unpairedDevices: [.init(profile: "pj-3r", port: "1-1.4")]) }
            hooks.appliedConfigVersion = { 7 }
            hooks.configRefused = { Heartbeat.ConfigRefusal(version: 8, reason: "[session] timeout_ms -1 must be 1000-600000") }
            let answers = Locked<[HeartbeatAnswer]>([])
            let reached = Locked(0)
            hooks.onAnswer = { answer in answers.mutate { $0.append(answer) } }
            hooks.onReachable = { reached.mutate { $0 += 1 } }
            let service = try heartbeatService(device, baseURL: hub.url, hooks: hooks)
            defer { Task { await service.transport.shutdown() } }

            let first = try await service.beat().get()
            #expect(first.deviceId == device.deviceId && first.sequence == 1 && first.configVersion == nil)
            #expect(WireTime.parse(first.serverTime) != nil)
            let afterFirst = try #require(try await hub.storage.latestHeartbeat(deviceId: device.deviceId))
            #expect(afterFirst.heartbeat.clockOffsetMs == nil, "no answer yet, so no offset of the device's own")
            _ = try await service.beat().get()
            await service.transport.shutdown()

            let stored = try #require(try await hub.storage.latestHeartbeat(deviceId: device.deviceId))
            let beat = stored.heartbeat
            #expect(beat.format == "PJHB1" && beat.deviceId == device.deviceId && beat.sequence == 2)
            #expect(beat.version == "9.8.7")
            #expect(beat.uptimeSeconds < 600)
            #expect(beat.outboxDepth == 5 && beat.ackedSeq == 0 && beat.lastSeq == 5)
            let age = try #require(beat.oldestUnackedAgeSeconds)
            #expect(age >= 0 && age < 600, "oldest unacked (rated \(oldest)) is \(age) s old")
            #expect(beat.deadLetter == nil)
            #expect(beat.storeHealth == "ok")
            #expect((beat.diskFreeBytes ?? 0) > 0)
            #expect(abs(try #require(beat.clockOffsetMs)) < 5_000, "same machine: the clocks agree")
            #expect(abs(try #require(stored.clockOffsetMs)) < 5_000)
            #expect(beat.windows == [window])
            #expect(beat.unpairedDevices == [.init(profile: "pj-3r", port: "1-1.4")])
            #expect(beat.lastRatingAt == newest)
            #expect(beat.appliedConfigVersion == 7)
            #expect(beat.configRefused == Heartbeat.ConfigRefusal(version: 8, reason: "[session] timeout_ms -1 must be 1000-600000"))
            #expect(WireTime.parse(stored.receivedAt) != nil)
            #expect(answers.value.count == 2 && reached.value == 2)

            // After a push and a dead letter, the next heartbeat says so.
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            try device.store.setDeadLetter(reason: "403 revoked: test", at: WireTime.format(Date()))
            let again = try heartbeatService(device, baseURL: hub.url)
            defer { Task { await again.transport.shutdown() } }
            _ = try await again.beat().get()
            await again.transport.shutdown()
            let later = try #require(try await hub.storage.latestHeartbeat(deviceId: device.deviceId)).heartbeat
            #expect(later.outboxDepth == 0 && later.ackedSeq == 5 && later.oldestUnackedAgeSeconds == nil)
            #expect(later.deadLetter == "403 revoked: test")
            let fleet = try await hub.storage.fleet()
            #expect(fleet.count == 1 && fleet[0].heartbeat?.heartbeat.bootId == again.bootId && fleet[0].syncLag == 0)
            await hub.stop()
        }
    }

    /// A forged, altered, replayed, revoked or unknown heartbeat is refused and changes nothing.
    @Test(arguments: Backend.all)
    func forgedReplayedAndRevokedHeartbeatsAreRefused(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            let forged = try heartbeatService(device, baseURL: hub.url, key: SigningKey())
            defer { Task { await forged.transport.shutdown() } }
            #expect(await forged.beat() == .failure(.refused(401, "401 bad-signature: the X-Pingjia-Signature header is not this device's signature over the body")))
            await forged.transport.shutdown()
            #expect(try await hub.storage.latestHeartbeat(deviceId: device.deviceId) == nil)

            let transport = try HTTPHubTransport(baseURL: hub.url, timeout: .seconds(30))
            defer { Task { await transport.shutdown() } }
            let key = try SigningKey.load(path: Enrollment.keyFile(device.location), create: false)
            let service = try heartbeatService(device, baseURL: hub.url)
            defer { Task { await service.transport.shutdown() } }
            let body = Array(try JSONEncoder().encode(service.gather()))
            let path = "/v1/devices/\(device.deviceId)/heartbeat"
            let signature = HeartbeatAuth.sign(deviceId: device.deviceId, body: body, key: key)
            // Altered after signing: one byte of the body changed.
            var altered = body
            altered[altered.count / 2] ^= 0x01
            #expect(try await transport.send(method: "POST", path: path, headers: [(HeartbeatAuth.header, signature)], body: altered).status == 401)
            #expect(try await transport.send(method: "POST", path: path, headers: [], body: body).status == 401)
            #expect(try await transport.send(method: "POST", path: path, headers: [(HeartbeatAuth.header, signature)], body: body).status == 200)
            // The same heartbeat again: a replay.
            let replay = try await transport.send(method: "POST", path: path, headers: [(HeartbeatAuth.header, signature)], body: body)
            #expect(replay.status == 409 && String(decoding: replay.body, as: UTF8.self).contains("stale-heartbeat"))
            // Too large: 413, or the connection closed by the hub before the client finished sending.
            let huge = [UInt8](repeating: 0x20, count: Hub.maxHeartbeatBytes + 1)
            let tooLarge = try? await transport.send(method: "POST", path: path, headers: [(HeartbeatAuth.header, signature)], body: huge)
            #expect(tooLarge == nil || tooLarge?.status == 413, "\(String(describing: tooLarge?.status))")
            #expect(try await transport.send(method: "POST", path: "/v1/devices/pj-000000000000/heartbeat",
                                             headers: [(HeartbeatAuth.header, signature)], body: body).status == 404)

            _ = try await hub.storage.revoke(deviceId: device.deviceId, now: Date())
            let revoked = await service.beat()
            #expect(revoked == .failure(.refused(403, "403 revoked: device '\(device.deviceId)' was revoked on this hub; nothing more is accepted from it")))
            await service.transport.shutdown()
            #expect(try await hub.storage.latestHeartbeat(deviceId: device.deviceId)?.heartbeat.sequence == 1)
            await hub.stop()
        }
    }

    /// Heartbeats have a per-device rate limit of their own.
    @Test func heartbeatsOverTheRateLimitAreRefusedWith429() async throws {
        try await withTempDirectory { dir in
            let hub = HubHarness(directory: dir)
            try await hub.start { settings in
                settings.heartbeatBurst = 2
                settings.heartbeatsPerSecond = 0.01
            }
            let device = try await enrolledDevice(dir, with: hub)
            defer { device.close() }
            let service = try heartbeatService(device, baseURL: hub.url)
            defer { Task { await service.transport.shutdown() } }
            _ = try await service.beat().get()
            _ = try await service.beat().get()
            guard case .failure(.refused(429, _)) = await service.beat() else {
                Issue.record("the third heartbeat in a row should be refused with 429")
                return
            }
            // Batches are counted apart: the device still delivers.
            try await device.rate(3)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            await hub.stop()
        }
    }

    /// Hub down → the push loop's backoff grows → hub up → a heartbeat gets through and wakes the
    /// push loop, which drains the outbox at once instead of waiting out its backoff.
    @Test func aHeartbeatThatGetsThroughWakesThePushLoop() async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir)
            defer { device.close() }
            let proxy = FaultProxy(upstreamPort: try deadPort())
            try await proxy.start()
            var settings = PushSettings()
            // One failure puts the loop into a wait of 60-120 s (equal jitter): a drain that ends
            // well inside 60 s can only have been woken, however loaded the machine is.
            settings.backoffBase = .seconds(120)
            settings.backoffCap = .seconds(240)
            settings.idlePoll = .milliseconds(20)
            let key = try SigningKey.load(path: Enrollment.keyFile(device.location), create: false)
            let pusher = Pusher(store: device.store, key: key, hubKey: PublicKey(base64: device.enrollment!.hubPublicKey)!,
                                transport: try HTTPHubTransport(baseURL: "http://127.0.0.1:\(proxy.port)", timeout: .seconds(30)),
                                settings: settings, logger: quietLogger)
            var hooks = HeartbeatService.Hooks()
            hooks.onReachable = { pusher.wake() }
            let heartbeat = try heartbeatService(device, baseURL: "http://127.0.0.1:\(proxy.port)", hooks: hooks)
            defer { Task { await heartbeat.transport.shutdown() } }
            try await device.rate(30)
            let loop = Task { await pusher.run() }
            defer {
                loop.cancel()
                Task {
                    await loop.value
                    await pusher.transport.shutdown()
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while proxy.requests < 1 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(proxy.requests >= 1)
            #expect(try device.store.syncState().ackedThroughSeq == 0)
            if case .failure(.unreachable) = await heartbeat.beat() {} else { Issue.record("the heartbeat should find the hub unreachable") }

            proxy.upstreamPort = hub.port
            let woken = ContinuousClock.now
            _ = try await heartbeat.beat().get()
            while try device.store.syncState().ackedThroughSeq < 30 && ContinuousClock.now - woken < .seconds(50) {
                try await Task.sleep(for: .milliseconds(20))
            }
            let took = ContinuousClock.now - woken
            #expect(try device.store.syncState().ackedThroughSeq == 30)
            #expect(took < .seconds(50), "drained \(took) after the heartbeat; the backoff alone was at least 60 s")
            loop.cancel()
            await loop.value
            await pusher.transport.shutdown()
            await heartbeat.transport.shutdown()
            await proxy.stop()
            try await expectExactlyOnce(device, hub)
            await hub.stop()
        }
    }

    /// The service sends on change, not only on its interval.
    @Test func aChangeIsSentWithoutWaitingForTheInterval() async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir)
            defer { device.close() }
            let devices = Locked<[Heartbeat.DeviceReport]>([])
            var hooks = HeartbeatService.Hooks()
            hooks.snapshot = {
                KioskSnapshot(windows: [.init(window: "1", staffId: "A1", staffStatus: "signed-in", devices: devices.value, keypadExpected: true)])
            }
            guard let enrollment = device.enrollment else { throw HarnessError("not enrolled") }
            var settings = HeartbeatSettings()
            settings.interval = .seconds(3600)
            settings.changePoll = .milliseconds(20)
            let service = HeartbeatService(store: device.store, key: try SigningKey.load(path: Enrollment.keyFile(device.location), create: false),
                                           hubKey: PublicKey(base64: enrollment.hubPublicKey)!,
                                           transport: try HTTPHubTransport(baseURL: hub.url, timeout: .seconds(30)), settings: settings,
                                           hooks: hooks, logger: quietLogger)
            let task = Task { try await service.run() }
            defer { task.cancel() }
            func latest() async throws -> Heartbeat? { try await hub.storage.latestHeartbeat(deviceId: device.deviceId)?.heartbeat }
            let deadline = ContinuousClock.now + .seconds(20)
            while try await latest() == nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(try await latest()?.windows.first?.devices == [])
            devices.mutate { $0 = [.init(profile: "pj-5key", port: "1-1.2")] }
            while try await latest()?.windows.first?.devices.isEmpty == true && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await latest()?.windows.first?.devices == [.init(profile: "pj-5key", port: "1-1.2")])
            #expect(try await latest()?.sequence == 2)
            task.cancel()
            _ = await task.result
            await hub.stop()
        }
    }
}

/// The network watcher sees an address appear on an interface (as when DHCP completes) and wakes
/// sync. Needs root (CAP_NET_ADMIN) and iproute2; the address is on loopback and removed after.
@Suite struct NetlinkWatcherTests {
    static var canChangeAddresses: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    static func ip(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 { throw HarnessError("ip \(arguments.joined(separator: " ")) failed") }
    }

    @Test(.enabled(if: canChangeAddresses, "needs root and /usr/sbin/ip"))
    func anAddressAppearingWakesSync() async throws {
        let woken = Locked(0)
        let watcher = NetlinkWatcher(logger: quietLogger) { woken.mutate { $0 += 1 } }
        let task = Task { try await watcher.run() }
        defer { task.cancel() }
        try await Task.sleep(for: .milliseconds(300))   // the socket is bound
        #expect(woken.value == 0)
        let address = "127.0.0.\(Int.random(in: 100...199))/32"
        try Self.ip(["addr", "add", address, "dev", "lo"])
        defer { try? Self.ip(["addr", "del", address, "dev", "lo"]) }
        let deadline = ContinuousClock.now + .seconds(10)
        while woken.value == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(woken.value == 1)
    }
}

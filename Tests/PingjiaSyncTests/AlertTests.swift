import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PingjiaCore
@testable import PingjiaHub
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import ServiceLifecycle
import Testing

/// A webhook receiver on a loopback port: answers 500 to the first `failFirst` attempts of each
/// delivery, then 200, and keeps what it accepted.
final class WebhookReceiver: @unchecked Sendable {
    struct Accepted: Sendable {
        let body: WebhookBody
        let validHMAC: Bool
        let timestampHeader: String?
    }

    let secret: [UInt8]
    let failFirst: Int
    private let lock = NSLock()
    private var attemptsById: [String: Int] = [:]
    private var _accepted: [Accepted] = []
    private var _requests = 0
    private(set) var port = 0
    private var group: ServiceGroup?
    private var task: Task<Void, any Error>?

    init(secret: [UInt8], failFirst: Int) {
        self.secret = secret
        self.failFirst = failFirst
    }

    var accepted: [Accepted] { lock.withLock { _accepted } }
    var requests: Int { lock.withLock { _requests } }
    var url: String { "http://127.0.0.1:\(port)/hook" }

    func start() async throws {
        let router = Router()
        router.post("/hook") { request, _ -> Response in
            var request = request
            let body = Array(buffer: try await request.collectBody(upTo: 1 << 20))
            let signature = request.headers[HTTPField.Name(WebhookSettings.signatureHeader)!]
            let timestamp = request.headers[HTTPField.Name(WebhookSettings.timestampHeader)!]
            guard let decoded = try? JSONDecoder().decode(WebhookBody.self, from: Data(body)) else { return Response(status: .badRequest) }
            let valid = signature == WebhookSettings.signature(body: body, secret: self.secret)
            let status: HTTPResponse.Status = self.lock.withLock {
                self._requests += 1
                let attempt = (self.attemptsById[decoded.deliveryId] ?? 0) + 1
                self.attemptsById[decoded.deliveryId] = attempt
                guard attempt > self.failFirst else { return .internalServerError }
                self._accepted.append(Accepted(body: decoded, validHMAC: valid, timestampHeader: timestamp))
                return .ok
            }
            return Response(status: status)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: quietLogger)
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: quietLogger)
        self.group = group
        task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        port = await iterator.next() ?? 0
    }

    func stop() async {
        await group?.triggerGracefulShutdown()
        _ = await task?.result
    }
}

@Suite struct AlertTests {
    /// A device that goes quiet raises one offline alert (not one per round), which clears when it
    /// is heard from again; the cleared alert is kept. Device conditions from the heartbeat
    /// (keypad missing at a staffed window, dead letter) raise and clear the same way, and each
    /// bad rating raises one alert.
    @Test(arguments: Backend.all)
    func offlineRaisesThenClearsAndBadRatingsAlertOnce(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let clock = Locked(Date())
            let hub = HubHarness(directory: dir, backend: backend)
            hub.now = { clock.value }
            try await hub.start()
            let device = try await enrolledDevice(dir, with: hub)
            defer { device.close() }
            let t0 = clock.value
            var rules = AlertRules()
            rules.diskFreeBelow = 0            // whatever this machine has free
            rules.clockOffsetAbove = 86_400 * 365   // the hub's clock is the test's, the device's is real
            let evaluator = AlertEvaluator(hub: hub.hub, rules: rules, webhooks: ["http://127.0.0.1:9/hook"], logger: quietLogger)
            let staffed = Locked(true)
            var hooks = HeartbeatService.Hooks()
            hooks.snapshot = {
                KioskSnapshot(windows: [.init(window: "3", staffId: "A1023", staffStatus: staffed.value ? "signed-in" : "signed-out",
                                              devices: [], keypadExpected: true)])
            }
            let heartbeat = try heartbeatService(device, baseURL: hub.url, hooks: hooks)
            defer { Task { await heartbeat.transport.shutdown() } }
            _ = try await heartbeat.beat().get()

            func at(_ minutes: Double) -> Date { t0.addingTimeInterval(minutes * 60) }
            func kinds(_ events: [AlertEvent]) -> [String] { events.map { "\($0.event.rawValue) \($0.alert.kind)" }.sorted() }

            #expect(kinds(try await evaluator.round(now: at(1))) == ["raised keypad-missing"])
            #expect(try await evaluator.round(now: at(2)).isEmpty, "one open alert per device and kind")
            staffed.mutate { $0 = false }
            clock.mutate { $0 = at(3) }
            _ = try await heartbeat.beat().get()
            #expect(kinds(try await evaluator.round(now: at(3))) == ["cleared keypad-missing"])

            #expect(kinds(try await evaluator.round(now: at(13.5))) == ["raised offline"])
            #expect(try await evaluator.round(now: at(20)).isEmpty)
            #expect(try await hub.storage.fleet().first?.openAlerts == ["offline"])
            clock.mutate { $0 = at(21) }
            try device.store.setDeadLetter(reason: "403 revoked", at: WireTime.format(Date()))
            _ = try await heartbeat.beat().get()
            #expect(kinds(try await evaluator.round(now: at(21))) == ["cleared offline", "raised dead-letter"])
            try device.store.clearDeadLetter()
            _ = try await heartbeat.beat().get()
            #expect(kinds(try await evaluator.round(now: at(21.5))) == ["cleared dead-letter"])

            let all = try await hub.storage.alerts(includeCleared: true, limit: 100)
            let offline = try #require(all.first { $0.kind == "offline" })
            #expect(offline.raisedAt == WireTime.format(at(13.5)) && offline.clearedAt == WireTime.format(at(21)))
            #expect(offline.hall == "测试大厅" && offline.deviceId == device.deviceId)
            #expect(try await hub.storage.alerts(includeCleared: false, limit: 100).isEmpty)

            // Ratings 0…6: levels 1-5 and 1-2; index 0 is flagged `test`. Bad: index 3 (code 4), 4 (code 5).
            try await device.rate(7)
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            let bad = try await evaluator.round(now: at(22))
            #expect(kinds(bad) == ["raised bad-rating", "raised bad-rating"])
            let badIds = Set(try device.store.records(after: 0, limit: 10).filter { ($0.rating.code?.rawValue ?? 0) >= 4 }.map {
                $0.rating.id.uuidString.lowercased()
            })
            #expect(Set(bad.map(\.alert.ref)) == badIds)
            #expect(bad.allSatisfy { $0.alert.detail.contains("差评") })
            #expect(try await evaluator.round(now: at(23)).isEmpty, "each bad rating alerts once")
            #expect(try await hub.storage.fleet().first?.openAlerts == ["bad-rating", "bad-rating"])
            #expect(FleetView.rows(try await hub.storage.fleet(), attentionOnly: true).isEmpty, "a 差评 is not the device's fault")
            // Each stays open until its case is verified, or a day at most.
            let workflow = CaseWorkflow(storage: hub.storage, config: .empty)
            #expect(try await workflow.sweep() == 2)
            #expect(try await evaluator.round(now: at(24)).isEmpty, "opening the cases verifies nothing")
            let verifiedCase = try #require(try await workflow.list(for: AdminUser(name: "zhao", role: .auditor, hall: nil)).first)
            try await workflow.apply(id: verifiedCase.entry.id, CaseInput(action: .verify, note: "核实属实", verdict: .valid),
                                     by: AdminUser(name: "wang", role: .manager, hall: "测试大厅"))
            let verified = try await evaluator.round(now: at(25))
            #expect(kinds(verified) == ["cleared bad-rating"] && verified.first?.alert.ref == verifiedCase.entry.ratingId)
            let dayLater = kinds(try await evaluator.round(now: at(22 + 24 * 60 + 1))).filter { $0.hasSuffix("bad-rating") }
            #expect(dayLater == ["cleared bad-rating"], "the other after a day")

            // One delivery per event for the one webhook, none twice.
            let deliveries = try await hub.storage.deliveries()
            let all2 = try await hub.storage.alerts(includeCleared: true, limit: 100)
            let events = all2.count + all2.filter { $0.clearedAt != nil }.count
            #expect(deliveries.count == events)
            #expect(Set(deliveries.map { "\($0.event.alert.id) \($0.event.event)" }).count == deliveries.count)
            await hub.stop()
        }
    }

    /// A receiver that answers 500 twice per delivery still gets each alert event exactly once
    /// (as seen by its delivery id), every body with a valid HMAC.
    @Test(arguments: Backend.all)
    func webhookGetsEachAlertOnceWithValidHMACDespiteErrors(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            let secret = Array("a-webhook-secret-of-the-test".utf8)
            let receiver = WebhookReceiver(secret: secret, failFirst: 2)
            try await receiver.start()
            try await device.rate(10)   // bad ones: index 3, 4, 8, 9
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            let evaluator = AlertEvaluator(hub: hub.hub, rules: AlertRules(), webhooks: [receiver.url], logger: quietLogger)
            let raised = try await evaluator.round(now: Date()).filter { $0.alert.kind == "bad-rating" }
            #expect(raised.count == 4)

            var settings = WebhookSettings()
            settings.urls = [receiver.url]
            settings.secret = secret
            settings.backoffBase = 0.05
            settings.poll = .milliseconds(20)
            // Two senders, as two hub instances would run: the leases keep them from sending one
            // delivery at the same time.
            let senders = [WebhookSender(storage: hub.storage, settings: settings, logger: quietLogger),
                           WebhookSender(storage: hub.storage, settings: settings, logger: quietLogger)]
            let tasks = senders.map { sender in Task { try await sender.run() } }
            let deadline = ContinuousClock.now + .seconds(60)
            while try await hub.storage.deliveries().contains(where: { $0.deliveredAt == nil }) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            for task in tasks { task.cancel() }
            for task in tasks { _ = await task.result }

            let accepted = receiver.accepted
            let deliveries = try await hub.storage.deliveries()
            #expect(deliveries.count == raised.count)
            #expect(deliveries.allSatisfy { $0.deliveredAt != nil && $0.attempts == 3 }, "\(deliveries.map(\.attempts))")
            #expect(accepted.count == raised.count, "each event accepted once")
            #expect(Set(accepted.map(\.body.deliveryId)).count == accepted.count)
            #expect(Set(accepted.map(\.body.alert.ref)) == Set(raised.map(\.alert.ref)))
            #expect(accepted.allSatisfy { $0.validHMAC && $0.timestampHeader == "\($0.body.timestamp)" && $0.body.event == .raised })
            #expect(receiver.requests == raised.count * 3)
            await receiver.stop()
            await hub.stop()
        }
    }

    /// Several hub instances on one database run their alert rounds at the same moment: each
    /// alert is raised once and each bad rating alerts once, and no round fails.
    @Test(arguments: Backend.all)
    func concurrentRoundsOfTwoInstancesRaiseEachAlertOnce(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir, backend)
            defer { device.close() }
            try await device.rate(20)   // bad: index 3, 4, 8, 9, 13, 14, 18, 19
            #expect(await drain(try device.pusher(baseURL: hub.url)) == .idle)
            let second = try await backend.open(try hub.database())
            let instances = [hub.hub!, Hub(storage: second, key: hub.key, logger: quietLogger)]
            let later = Date().addingTimeInterval(3600)   // the device is offline by then
            let events = try await withThrowingTaskGroup(of: [AlertEvent].self) { group in
                for index in 0..<8 {
                    let evaluator = AlertEvaluator(hub: instances[index % 2], rules: AlertRules(), webhooks: ["http://127.0.0.1:9/a"],
                                                   logger: quietLogger)
                    group.addTask { try await evaluator.round(now: later) }
                }
                var all: [AlertEvent] = []
                for try await events in group { all += events }
                return all
            }
            #expect(events.filter { $0.alert.kind == "offline" }.count == 1)
            #expect(events.filter { $0.alert.kind == "bad-rating" }.count == 8)
            #expect(events.count == 9)
            #expect(try await hub.storage.deliveries().count == 9)
            await second.close()
            await hub.stop()
        }
    }
}

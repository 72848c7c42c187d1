import Foundation
import PingjiaCore
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol
import Testing

/// The push loop's decisions for answers a healthy hub never gives, through a scripted transport
/// (the test double of `HubTransport`); the real hub is in the other suites.
@Suite struct PusherDecisionTests {
    /// Answers each request with the next scripted response and records what was sent.
    final class ScriptedTransport: HubTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var script: [@Sendable (Batch) -> HubResponse]
        private(set) var sent: [Batch] = []

        init(_ script: [@Sendable (Batch) -> HubResponse]) { self.script = script }

        func send(method: String, path: String, headers: [(String, String)], body: [UInt8]?) async throws -> HubResponse {
            let batch = try JSONDecoder().decode(Batch.self, from: Data(body ?? []))
            let next: (@Sendable (Batch) -> HubResponse)? = lock.withLock {
                sent.append(batch)
                return script.isEmpty ? nil : script.removeFirst()
            }
            guard let next else { throw HarnessError("the script ran out") }
            return next(batch)
        }

        func shutdown() async {}
    }

    static func receipt(_ batch: Batch, through: UInt64? = nil, head: String? = nil, deviceId: String? = nil, key: SigningKey) -> HubResponse {
        let receipt = Receipt(deviceId: deviceId ?? batch.deviceId, throughSeq: through ?? batch.toSeq,
                              headHash: ChainHash(hex: head ?? batch.headHash)!, receivedAt: "2026-11-24T02:00:00.000Z", key: key)
        return HubResponse(status: 200, body: Array(try! JSONEncoder().encode(receipt)))
    }

    static func problem(_ status: Int, _ type: String, expected: UInt64? = nil, retryAfter: Duration? = nil) -> HubResponse {
        HubResponse(status: status, body: Array(try! JSONEncoder().encode(Problem(type: type, title: type, status: status, detail: type,
                                                                                  expectedSeq: expected))), retryAfter: retryAfter)
    }

    static func device(_ dir: String, ratings: Int) throws -> (KioskStore, String) {
        let store = try KioskStore.open(path: dir + "/pingjia.db", deviceId: "pj-0123456789ab", logger: quietLogger)
        for index in 0..<ratings { try store.append(TestDevice.rating(index)) }
        return (store, "pj-0123456789ab")
    }

    static func pusher(_ store: KioskStore, hub: SigningKey, transport: ScriptedTransport) -> Pusher {
        var settings = PushSettings()
        settings.batchRecords = 5
        return Pusher(store: store, key: SigningKey(), hubKey: hub.publicKey, transport: transport, settings: settings, logger: quietLogger)
    }

    @Test func receiptsThatDoNotCheckOutNeverAdvanceTheAcknowledgedSeq() async throws {
        try await withTempDirectory { dir in
            let (store, _) = try Self.device(dir, ratings: 5)
            defer { store.close() }
            let hub = SigningKey()
            let transport = ScriptedTransport([
                { Self.receipt($0, key: SigningKey()) },                                   // signed by someone else
                { Self.receipt($0, deviceId: "pj-ffffffffffff", key: hub) },               // for another device
                { _ in HubResponse(status: 200, body: Array("{\"deviceId\":".utf8)) },     // cut short
                { Self.receipt($0, head: String(repeating: "ab", count: 32), key: hub) },  // another chain's head
            ])
            let pusher = Self.pusher(store, hub: hub, transport: transport)
            for _ in 0..<3 {
                guard case .retry = await pusher.step() else { Issue.record("expected a retry"); return }
                #expect(try store.syncState().ackedThroughSeq == 0)
            }
            guard case .deadLetter(let reason) = await pusher.step() else { Issue.record("expected a dead letter"); return }
            #expect(reason.contains("the chains differ"))
            #expect(try store.syncState().ackedThroughSeq == 0)
        }
    }

    @Test func transientAnswersRetryAndAGapResendsFromTheExpectedSeq() async throws {
        try await withTempDirectory { dir in
            let (store, _) = try Self.device(dir, ratings: 12)
            defer { store.close() }
            let hub = SigningKey()
            let transport = ScriptedTransport([
                { _ in Self.problem(503, Problem.Kind.internalError, retryAfter: .seconds(5)) },
                { _ in Self.problem(429, Problem.Kind.rateLimited, retryAfter: .seconds(1)) },
                { Self.receipt($0, key: hub) },                                    // 1…5 acknowledged
                { _ in Self.problem(409, Problem.Kind.gap, expected: 3) },        // the hub lost 3…5
                { Self.receipt($0, key: hub) },                                    // 3…7: receipt through 7
                { Self.receipt($0, key: hub) },                                    // 8…12
            ])
            let pusher = Self.pusher(store, hub: hub, transport: transport)
            #expect(await pusher.step() == .retry("the hub answered 503 internal: internal", after: .seconds(5)))
            #expect(await pusher.step() == .retry("the hub answered 429 rate-limited: rate-limited", after: .seconds(1)))
            #expect(await pusher.step() == .advanced(to: 5, records: 5))
            #expect(await pusher.step() == .resendFrom(3))
            #expect(await pusher.step() == .advanced(to: 7, records: 2))
            #expect(await pusher.step() == .advanced(to: 12, records: 5))
            #expect(await pusher.step() == .idle)
            #expect(transport.sent.map(\.fromSeq) == [1, 1, 1, 6, 3, 8])
            // Retries of the same records carry the same Idempotency-Key.
            #expect(Set(transport.sent.prefix(3).map(\.idempotencyKey)).count == 1)
        }
    }

    /// Only definitive answers about the device stop it; the hub's database being away, an
    /// unknown device (an old hub's answer to the same), a proxy's own error page, a malformed
    /// or too-large verdict: all retried, and the kiosk carries on once the hub answers again.
    @Test func onlyDefinitiveRefusalsDeadLetter() async throws {
        try await withTempDirectory { dir in
            let (store, _) = try Self.device(dir, ratings: 5)
            defer { store.close() }
            let hub = SigningKey()
            let proxyPage = { (status: Int) in { @Sendable (_: Batch) in HubResponse(status: status, body: Array("<html>error</html>".utf8)) } }
            let transport = ScriptedTransport([
                { _ in Self.problem(503, Problem.Kind.internalError, retryAfter: .seconds(5)) },
                { _ in Self.problem(404, Problem.Kind.unknownDevice) },
                proxyPage(403), proxyPage(404), proxyPage(502),
                { _ in Self.problem(400, Problem.Kind.malformed) },
                { _ in Self.problem(413, Problem.Kind.tooLarge) },
                { _ in Self.problem(401, Problem.Kind.badSignature) },
                { _ in Self.problem(401, Problem.Kind.badSignature) },
                { Self.receipt($0, key: hub) },
            ])
            let pusher = Self.pusher(store, hub: hub, transport: transport)
            for _ in 0..<9 {
                let step = await pusher.step()
                guard case .retry = step else { Issue.record("expected a retry, got \(step)"); return }
            }
            #expect(await pusher.step() == .advanced(to: 5, records: 5))
            #expect(try store.syncState().deadLetterReason == nil)
        }
    }

    @Test(arguments: [(403, Problem.Kind.revoked), (409, Problem.Kind.conflict), (422, Problem.Kind.chainBroken),
                      (422, Problem.Kind.idempotencyMismatch)])
    func definitiveRefusalsDeadLetterAtOnce(_ status: Int, _ type: String) async throws {
        try await withTempDirectory { dir in
            let (store, _) = try Self.device(dir, ratings: 5)
            defer { store.close() }
            let transport = ScriptedTransport([{ _ in Self.problem(status, type) }])
            let pusher = Self.pusher(store, hub: SigningKey(), transport: transport)
            guard case .deadLetter(let reason) = await pusher.step() else { Issue.record("expected a dead letter"); return }
            #expect(reason.contains("\(status) \(type)"))
            #expect(try store.syncState().deadLetterReason == reason)
        }
    }

    @Test func aBadSignatureDeadLettersOnlyWhenItRepeats() async throws {
        try await withTempDirectory { dir in
            let (store, _) = try Self.device(dir, ratings: 5)
            defer { store.close() }
            let transport = ScriptedTransport(Array(repeating: { _ in Self.problem(401, Problem.Kind.badSignature) }, count: 3))
            let pusher = Self.pusher(store, hub: SigningKey(), transport: transport)
            for _ in 0..<2 {
                guard case .retry = await pusher.step() else { Issue.record("expected a retry"); return }
            }
            guard case .deadLetter(let reason) = await pusher.step() else { Issue.record("expected a dead letter"); return }
            #expect(reason.contains("401 bad-signature") && reason.contains("3 times in a row"), "\(reason)")
        }
    }

    @Test func backoffIsCappedAndJittered() {
        let backoff = Backoff(base: .milliseconds(500), cap: .seconds(60))
        for failures in 1...40 {
            let delay = backoff.delay(afterFailures: failures)
            let step = min(Duration.seconds(60), .milliseconds(500) * (1 << min(failures - 1, 30)))
            #expect(delay >= step / 2 && delay <= step, "after \(failures) failures: \(delay)")
        }
        let samples = Set((0..<20).map { _ in backoff.delay(afterFailures: 10) })
        #expect(samples.count > 1, "no jitter")
    }
}

import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOCore
import PingjiaSyncProtocol
import ServiceLifecycle

/// Where alert events go: each URL gets every event once, as JSON signed with HMAC-SHA256.
public struct WebhookSettings: Sendable {
    public var urls: [String] = []
    /// The shared secret of the HMAC (`--webhook-secret-file`).
    public var secret: [UInt8] = []
    /// Retry after a failed attempt: from `backoffBase`, doubling, at most `backoffCap`.
    public var backoffBase: TimeInterval = 10
    public var backoffCap: TimeInterval = 3600
    /// How often the sender looks for due deliveries.
    public var poll: Duration = .seconds(1)
    public var timeout: Duration = .seconds(10)

    public init() {}

    public static let signatureHeader = "X-Pingjia-Signature"
    public static let timestampHeader = "X-Pingjia-Timestamp"
    public static let deliveryHeader = "X-Pingjia-Delivery"

    /// `sha256=<hex HMAC-SHA256(secret, body)>`.
    public static func signature(body: [UInt8], secret: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: secret))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    func retryDelay(afterAttempts attempts: Int) -> TimeInterval {
        min(backoffCap, backoffBase * pow(2, Double(min(max(attempts - 1, 0), 30))))
    }
}

/// The body a webhook receives. `deliveryId` is the same on every retry of one event to one
/// webhook: a receiver that saw it already answers 2xx and does nothing.
public struct WebhookBody: Codable, Sendable, Equatable {
    public var deliveryId: String
    public var event: AlertEvent.Kind
    public var alert: FleetAlert
    /// Unix seconds of this attempt, the same as the timestamp header (covered by the HMAC).
    public var timestamp: Int64
}

/// The hub's periodic alert round (`FleetStorage.evaluateAlerts`): offline is a condition nobody
/// reports, so something must look. Safe to run on every hub instance at once.
public struct AlertEvaluator: Service {
    let hub: Hub
    let rules: AlertRules
    let webhooks: [String]
    let interval: Duration
    let logger: Logger

    public init(hub: Hub, rules: AlertRules, webhooks: [String], interval: Duration = .seconds(15), logger: Logger) {
        self.hub = hub
        self.rules = rules
        self.webhooks = webhooks
        self.interval = interval
        self.logger = logger
    }

    /// One round at `now`; the events it produced.
    @discardableResult
    public func round(now: Date) async throws(HubError) -> [AlertEvent] {
        let rules = self.rules
        let events = try await hub.storage.evaluateAlerts(now: now, badRatingOpenFor: rules.badRatingOpenFor, webhooks: webhooks) {
            rules.conditions($0, now: now)
        }
        for event in events {
            logger.notice("alert \(event.event.rawValue)", metadata: [
                "device": "\(event.alert.deviceId)", "kind": "\(event.alert.kind)", "detail": "\(event.alert.detail)",
            ])
        }
        return events
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await round(now: hub.now()) } catch {
                    logger.error("alert round failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

/// Sends queued alert events to the webhooks: at least once per event and webhook, retried with
/// exponential backoff; the delivery id lets receivers drop repeats. Deliveries are leased in
/// the database, so several hub instances never send one at the same time.
public struct WebhookSender: Service {
    let storage: any HubStorage
    let settings: WebhookSettings
    let logger: Logger
    let now: @Sendable () -> Date

    public init(storage: any HubStorage, settings: WebhookSettings, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) {
        self.storage = storage
        self.settings = settings
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                configuration: .init(redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(5), read: .seconds(Int64(settings.timeout.components.seconds)))))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let sent = await sendDue(client: client)
                if sent == 0 { try? await Task.sleep(for: settings.poll) }
            }
        }
        try? await client.shutdown()
    }

    /// One pass over the due deliveries; how many were attempted.
    @discardableResult
    public func sendDue(client: HTTPClient) async -> Int {
        let lease = settings.timeout.components.seconds + 30
        let due: [WebhookDelivery]
        do { due = try await storage.claimDeliveries(now: now(), lease: TimeInterval(lease), limit: 50) } catch {
            logger.error("cannot read the webhook queue", metadata: ["error": "\(error)"])
            return 0
        }
        for delivery in due {
            let error = await send(delivery, client: client)
            let at = now()
            let retry = error == nil ? nil : at.addingTimeInterval(settings.retryDelay(afterAttempts: delivery.attempts + 1))
            if let error {
                logger.warning("webhook delivery failed; will retry", metadata: [
                    "webhook": "\(delivery.webhook)", "delivery": "\(delivery.id)", "attempt": "\(delivery.attempts + 1)", "error": "\(error)",
                ])
            }
            try? await storage.finishDelivery(id: delivery.id, deliveredAt: error == nil ? at : nil, retryAt: retry, error: error)
        }
        return due.count
    }

    /// Nil when the receiver answered 2xx; otherwise what went wrong.
    func send(_ delivery: WebhookDelivery, client: HTTPClient) async -> String? {
        let timestamp = Int64(now().timeIntervalSince1970)
        let body = WebhookBody(deliveryId: "\(delivery.id)", event: delivery.event.event, alert: delivery.event.alert, timestamp: timestamp)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let bytes = try? Array(encoder.encode(body)) else { return "cannot encode the body" }
        var request = HTTPClientRequest(url: delivery.webhook)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: WebhookSettings.signatureHeader, value: WebhookSettings.signature(body: bytes, secret: settings.secret))
        request.headers.add(name: WebhookSettings.timestampHeader, value: "\(timestamp)")
        request.headers.add(name: WebhookSettings.deliveryHeader, value: "\(delivery.id)")
        request.body = .bytes(ByteBuffer(bytes: bytes))
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(settings.timeout.components.seconds)))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (200..<300).contains(Int(response.status.code)) ? nil : "HTTP \(response.status.code)"
        } catch {
            return "\(error)"
        }
    }
}

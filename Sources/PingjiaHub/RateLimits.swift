import Foundation
import Hummingbird
import PingjiaSyncProtocol

/// Token buckets per key: `rate` tokens a second, at most `burst` saved up. Memory is bounded:
/// a bucket that has refilled is the same as no bucket and is dropped when the map grows, and
/// past `maxBuckets` new keys share one overflow bucket (under a flood of distinct keys they
/// are limited together rather than each getting a fresh allowance).
final class RateLimiter: @unchecked Sendable {
    private let rate: Double
    private let burst: Double
    private let maxBuckets: Int
    private let lock = NSLock()
    private var buckets: [String: Bucket] = [:]
    private var overflow: Bucket?
    private var lastSweep: TimeInterval = -.infinity

    private struct Bucket {
        var tokens: Double
        var at: TimeInterval
    }

    init(rate: Double, burst: Double, maxBuckets: Int = 10_000) {
        self.rate = rate
        self.burst = burst
        self.maxBuckets = max(1, maxBuckets)
    }

    /// Takes a token for `key`; false when its bucket is empty.
    func allow(_ key: String, now: TimeInterval = ProcessInfo.processInfo.systemUptime) -> Bool {
        update(key, now: now) { bucket in
            guard bucket.tokens >= 1 else { return false }
            bucket.tokens -= 1
            return true
        }
    }

    /// True while `key` has a token left, without taking it.
    func hasToken(_ key: String, now: TimeInterval = ProcessInfo.processInfo.systemUptime) -> Bool {
        lock.withLock {
            guard let bucket = buckets[key] ?? (buckets.count >= maxBuckets ? overflow : nil) else { return true }
            return refilled(bucket, now: now).tokens >= 1
        }
    }

    /// Buckets held (the overflow bucket not counted), for tests and memory bounds.
    var count: Int { lock.withLock { buckets.count } }

    private func refilled(_ bucket: Bucket, now: TimeInterval) -> Bucket {
        Bucket(tokens: min(burst, bucket.tokens + max(0, now - bucket.at) * rate), at: now)
    }

    private func update(_ key: String, now: TimeInterval, _ change: (inout Bucket) -> Bool) -> Bool {
        lock.withLock {
            if var bucket = buckets[key] {
                bucket = refilled(bucket, now: now)
                let result = change(&bucket)
                buckets[key] = bucket
                return result
            }
            if buckets.count >= maxBuckets || now - lastSweep >= Self.sweepInterval { sweep(now: now) }
            if buckets.count >= maxBuckets {
                var bucket = refilled(overflow ?? Bucket(tokens: burst, at: now), now: now)
                let result = change(&bucket)
                overflow = bucket
                return result
            }
            var bucket = Bucket(tokens: burst, at: now)
            let result = change(&bucket)
            buckets[key] = bucket
            return result
        }
    }

    /// Idle buckets are looked for at least this often (as new keys arrive), and at most once a
    /// second when the map is full, so a flood past the bound does not turn every request into a scan.
    static let sweepInterval: TimeInterval = 60

    /// Drops the buckets that are full again (idle long enough).
    private func sweep(now: TimeInterval) {
        guard now - lastSweep >= 1 else { return }
        lastSweep = now
        buckets = buckets.filter { refilled($0.value, now: now).tokens < burst }
        if let overflow, refilled(overflow, now: now).tokens >= burst { self.overflow = nil }
    }
}

/// The limits on requests that name a device (batches, heartbeats, configuration): per client
/// address for what the hub refuses before authentication, per device only once the request is
/// signed by the device's key. So junk that names a device cannot spend that device's allowance,
/// and random ids leave no bucket behind.
final class DeviceRequestLimits: Sendable {
    let refusals: RateLimiter
    let devices: RateLimiter
    let heartbeats: RateLimiter
    let clientAddressHeader: String?

    init(settings: HubSettings) {
        refusals = RateLimiter(rate: settings.refusalsPerSecond, burst: settings.refusalBurst, maxBuckets: settings.rateLimitBuckets)
        devices = RateLimiter(rate: settings.requestsPerSecond, burst: settings.burst, maxBuckets: settings.rateLimitBuckets)
        // A bucket of its own, so heartbeats never eat into the batches' allowance.
        heartbeats = RateLimiter(rate: settings.heartbeatsPerSecond, burst: settings.heartbeatBurst, maxBuckets: settings.rateLimitBuckets)
        clientAddressHeader = settings.clientAddressHeader
    }

    private func client(_ request: Request) -> String { PhoneHTML.clientAddress(request, proxyHeader: clientAddressHeader) }

    /// 429 before any work when the request's address has used up its refusals.
    func refuseUnauthenticated(_ request: Request) -> Response? {
        refusals.hasToken(client(request)) ? nil : refusedTooOften()
    }

    /// Counts a refusal before authentication against the request's address; passes `response` on.
    /// A 503 (the hub's own database failing) is not the client's doing and costs nothing.
    func refused(_ request: Request, _ response: Response) -> Response {
        if response.status.code != 503 { _ = refusals.allow(client(request)) }
        return response
    }

    /// An authenticated request of `deviceId` (batch or configuration).
    func admit(_ deviceId: String) -> Bool { devices.allow(deviceId) }
    func admitHeartbeat(_ deviceId: String) -> Bool { heartbeats.allow(deviceId) }

    private func refusedTooOften() -> Response {
        problem(Problem(type: Problem.Kind.rateLimited, title: "Too many refused requests", status: 429,
                        detail: "too many requests from this address were refused (unknown device, bad signature, malformed): "
                            + "fix the client, then retry after the Retry-After delay"))
    }
}

import Foundation
import Logging
import PingjiaCore
import PingjiaSyncProtocol

/// How fast a hub instance stores ratings (`pingjia-hub bench-ingest`, called by Benchmarks/):
/// simulated devices are enrolled in the storage, then send signed batches through `Hub.ingest`
/// (signature and chain verification, the storage transaction; no HTTP), several at once.
/// Building and signing the batches is done before the clock starts.
public enum IngestBenchmark {
    public struct Outcome: Sendable, Codable {
        public let devices: Int
        public let ratings: Int
        public let batch: Int
        public let concurrency: Int
        public let seconds: Double
        public let ratingsPerSecond: Int
        public let failedBatches: Int
    }

    public static func run(storage: any HubStorage, devices: Int, ratings: Int, batch: Int, concurrency: Int) async throws -> Outcome {
        var logger = Logger(label: "pingjia.bench")
        logger.logLevel = .warning  // not a line per simulated device enrolled
        let hub = Hub(storage: storage, key: SigningKey(), logger: logger)
        let work = try await prepare(hub: hub, devices: devices, ratings: ratings, batch: batch)
        let next = WorkCounter()
        let start = ContinuousClock.now
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var failed = 0
                    while let index = next.take(below: work.count) {
                        let item = work[index]
                        while true {
                            switch await hub.ingest(deviceId: item.deviceId, idempotencyKey: item.key, body: item.body) {
                            case .success:
                                break
                            case .failure(let problem) where problem.type == Problem.Kind.gap:
                                // The device's previous batch is still with another worker; a kiosk
                                // would wait for that receipt too.
                                try await Task.sleep(for: .milliseconds(1))
                                continue
                            case .failure(let problem):
                                FileHandle.standardError.write(Data("bench-ingest: \(item.deviceId): \(problem.detail)\n".utf8))
                                failed += 1
                            }
                            break
                        }
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var stored = 0
        for device in try await storage.devices() { stored += Int(device.lastSeq) }
        return Outcome(devices: devices, ratings: stored, batch: batch, concurrency: concurrency, seconds: seconds,
                       ratingsPerSecond: Int(Double(stored) / max(seconds, 0.001)), failedBatches: failures)
    }

    /// Enrolls the devices and signs every batch; the batches come out round-robin over the
    /// devices, as kiosks pushing at the same time arrive.
    static func prepare(hub: Hub, devices: Int, ratings: Int, batch: Int) async throws -> [(deviceId: String, key: String, body: [UInt8])] {
        var queues: [[(deviceId: String, key: String, body: [UInt8])]] = []
        let encoder = JSONEncoder()
        for index in 0..<devices {
            let key = SigningKey()
            let deviceId = String(format: "pj-%012x", index + 1)
            let code = try await hub.addDevice(hall: "基准大厅", name: "\(index + 1)号").code
            _ = try await hub.enroll(EnrollRequest(code: code, deviceId: deviceId, publicKey: key.publicKey.base64))
            var previous = ChainHash.genesis
            var seq: UInt64 = 0
            var queue: [(deviceId: String, key: String, body: [UInt8])] = []
            var remaining = ratings / devices + (index < ratings % devices ? 1 : 0)
            while remaining > 0 {
                let count = min(batch, remaining)
                var records: [RatingRecord] = []
                records.reserveCapacity(count)
                for _ in 0..<count {
                    seq += 1
                    let record = RatingRecord(seq: seq, deviceId: deviceId, rating: rating(Int(seq) + index), prevHash: previous)
                    records.append(record)
                    previous = record.hash
                }
                let signed = Batch(records: records, deviceId: deviceId, sentAt: DeviceTime.format(Date()), key: key)
                queue.append((deviceId, signed.idempotencyKey, Array(try encoder.encode(signed))))
                remaining -= count
            }
            queues.append(queue)
        }
        var work: [(deviceId: String, key: String, body: [UInt8])] = []
        for round in 0..<(queues.map(\.count).max() ?? 0) {
            for queue in queues where round < queue.count { work.append(queue[round]) }
        }
        return work
    }

    /// Ratings spread over 50 staff, 20 windows, 20 days and every level, as a report would meet them.
    static func rating(_ index: Int) -> NewRating {
        let level = index % 5 + 1
        return NewRating(staffId: "A\(1000 + index % 50)", windowId: "\(index % 20 + 1)", matterCode: "11000000000000000X4440111700001",
                         channel: [RatingChannel.keypad, .touch, .qr][index % 3], scale: "five", level: level,
                         code: SatisfactionCode(rawValue: level)!, reasons: level >= 4 ? ["slow"] : [],
                         ratedAt: "2026-11-\(10 + index % 20)T\(10 + index % 8):00:00.000+08:00",
                         monotonicNs: UInt64(index) * 1_000_000)
    }
}

/// Hands out work items to the benchmark's workers.
final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            defer { value += 1 }
            return value
        }
    }
}

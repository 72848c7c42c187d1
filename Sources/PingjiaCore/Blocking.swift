import Dispatch

/// Runs `work` that blocks its thread (a SQLite commit waiting for fsync, a deliberately slow
/// password hash) on a Dispatch thread and suspends the caller until it is done.
///
/// Swift's cooperative pool has one thread per core: two on a kiosk. Work that blocks one of
/// them stalls every task of the process that waits for a thread, the HTTP server's handlers
/// among them; Dispatch's global queue adds threads while others are blocked.
public func runBlocking<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    try await run(on: DispatchQueue.global(), work)
}

/// One thread of its own for blocking work that must happen in order, one piece at a time: the
/// kiosk store's writes (each a commit waiting for fsync). Callers suspend instead of blocking the
/// cooperative pool, and a second writer waits in this queue rather than on SQLite's lock on a
/// thread of the pool.
public final class BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    /// Runs `work` on the queue after what was queued before it; the caller suspends meanwhile.
    public func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        try await PingjiaCore.run(on: queue, work)
    }
}

private func run<T: Sendable, E: Error>(on queue: DispatchQueue, _ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        queue.async {
            continuation.resume(returning: Result { () throws(E) -> T in try work() })
        }
    }
    return try result.get()
}

import Dispatch

/// Runs `work` that blocks its thread (a SQLite commit waiting for fsync, a deliberately slow
/// password hash) on a Dispatch thread and suspends the caller until it is done.
///
/// Swift's cooperative pool has one thread per core: two on a kiosk. Work that blocks one of
/// them stalls every task of the process that waits for a thread, the HTTP server's handlers
/// among them; Dispatch's global queue adds threads while others are blocked.
public func runBlocking<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
    let result: Result<T, E> = await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(returning: Result { () throws(E) -> T in try work() })
        }
    }
    return try result.get()
}

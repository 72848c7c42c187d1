import Foundation

/// A sleep that another task can cut short: the push loop waits out its backoff on one, and the
/// heartbeat (or a network change) wakes it when the hub is reachable again. A wake with nobody
/// asleep is kept for the next sleep, so one that arrives mid-request is not lost.
public final class WakeSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: (token: UInt64, continuation: CheckedContinuation<Bool, Never>)?
    private var nextToken: UInt64 = 0

    public init() {}

    /// Ends the current sleep early (or the next one at once).
    public func wake() {
        lock.lock()
        let sleeping = waiter
        waiter = nil
        if sleeping == nil { pending = true }
        lock.unlock()
        sleeping?.continuation.resume(returning: true)
    }

    /// Sleeps up to `duration`; true when woken early.
    @discardableResult
    public func sleep(for duration: Duration) async -> Bool {
        let token = lock.withLock {
            nextToken += 1
            return nextToken
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                lock.lock()
                if pending || Task.isCancelled {
                    let woken = pending
                    pending = false
                    lock.unlock()
                    continuation.resume(returning: woken)
                    return
                }
                waiter = (token, continuation)
                lock.unlock()
                Task { [weak self] in
                    try? await Task.sleep(for: duration)
                    self?.finish(token: token)
                }
            }
        } onCancel: {
            self.finish(token: token)
        }
    }

    private func finish(token: UInt64) {
        lock.lock()
        guard let sleeping = waiter, sleeping.token == token else {
            lock.unlock()
            return
        }
        waiter = nil
        lock.unlock()
        sleeping.continuation.resume(returning: false)
    }
}

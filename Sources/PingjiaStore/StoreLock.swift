import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An advisory lock beside the store (`pingjia.db.lock`) that tells whether any other process has
/// the store open.
///
/// Every open store holds it shared. Moving a damaged store aside needs it exclusive: if pingjiad
/// is running, `pingjia outbox status` must not rename the file from under it (the daemon would
/// go on writing ratings into the moved-aside file). A separate file, because closing any other
/// descriptor of the database file would drop SQLite's own POSIX locks on it.
final class StoreLock: Sendable {
    private let descriptor: Mutex<Int32>

    init(storePath: String) throws(StoreError) {
        let path = storePath + ".lock"
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw .cannotOpen(path: storePath, reason: "cannot create its lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_SH) == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw .cannotOpen(path: storePath, reason: "cannot lock \(path): \(reason)")
        }
        descriptor = Mutex(fd)
    }

    /// Tries for `seconds` to become the only holder; returns to shared either way when done.
    func withExclusive<T>(waitingUpTo seconds: Double, _ body: () throws(StoreError) -> T) throws(StoreError) -> T? {
        let fd = descriptor.withLock { $0 }
        guard fd >= 0 else { return nil }
        let deadline = Date().addingTimeInterval(seconds)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            // A failed conversion may have dropped the shared lock: take it back before waiting.
            flock(fd, LOCK_SH)
            guard Date() < deadline else { return nil }
            usleep(100_000)
        }
        defer { flock(fd, LOCK_SH) }
        return try body()
    }

    func release() {
        descriptor.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    deinit { release() }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `pingjiad.lock` in the state directory, held exclusively by the running daemon. The installer's
/// commands that need the USB devices to themselves (`pingjia pair`) or that change what the
/// daemon reads at start (`pingjia setup`) look at it first and refuse while pingjiad runs.
public final class DaemonLock: Sendable {
    public static let fileName = "pingjiad.lock"
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Takes the lock for this process's lifetime; nil when another pingjiad holds it.
    public static func acquire(_ location: StateLocation) throws(ConfigEditError) -> DaemonLock? {
        let path = location.path(fileName)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ConfigEditError("cannot create \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return DaemonLock(fd: fd)
    }

    /// True while a pingjiad runs on this state directory.
    public static func isHeld(_ location: StateLocation) -> Bool {
        let fd = open(location.path(fileName), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    deinit { close(fd) }
}

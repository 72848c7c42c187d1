import Foundation

/// Whether the kiosk can still take ratings: the store answers and the state directory takes a
/// write. One check for /healthz and the systemd watchdog, so the two never disagree.
///
/// The write is real (a probe file created, written and removed) rather than `access(W_OK)`:
/// as root, `access` says yes to a read-only permission bit, and a full disk or a file system
/// remounted read-only only shows on an actual write.
public struct StoreHealthCheck: Sendable {
    public static let probeName = "health-probe"
    let kiosk: KioskContext

    public init(kiosk: KioskContext) { self.kiosk = kiosk }

    public var probePath: String { kiosk.location.stateDirectory + "/" + Self.probeName }

    /// nil when healthy, else what is wrong and what to do about it.
    public func problem() -> String? {
        do {
            // A read of the pool's readers only (WAL: never waits for a commit's fsync), so the
            // check answers at once while the writer is busy on a slow disk.
            _ = try kiosk.store.outboxFacts()
        } catch {
            return "the store does not answer: \(error)"
        }
        let path = probePath
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return "the state directory \(kiosk.location.stateDirectory) is not writable (\(path): \(String(cString: strerror(errno)))); free disk space or fix its permissions"
        }
        let byte: UInt8 = 0x0A
        let written = withUnsafePointer(to: byte) { write(fd, $0, 1) }
        let writeErrno = errno
        close(fd)
        unlink(path)
        if written != 1 {
            return "the state directory \(kiosk.location.stateDirectory) is not writable (\(path): \(String(cString: strerror(writeErrno)))); free disk space or fix its permissions"
        }
        return nil
    }
}

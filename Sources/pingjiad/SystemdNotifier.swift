import Foundation
import Synchronization

/// Tells the service manager how the daemon is doing (sd_notify): READY=1, WATCHDOG=1, STOPPING=1.
protocol ServiceManagerNotifier: Sendable {
    func notify(_ state: String)
}

/// The sd_notify protocol, written out rather than linking libsystemd: one datagram per message
/// to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract namespace).
/// Without $NOTIFY_SOCKET (started by hand, by `make run`, by tests) every message is dropped.
struct SystemdNotifier: ServiceManagerNotifier {
    let socketPath: String?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"]
        socketPath = (path?.isEmpty ?? true) ? nil : path
    }

    func notify(_ state: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var name = Array(socketPath.utf8)
        // Abstract namespace: the leading '@' stands for a NUL byte, and the name is not NUL-terminated.
        if name.first == UInt8(ascii: "@") { name[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard name.count <= capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in name.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count + (name.first == 0 ? 0 : 1))
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
            }
        }
    }

    /// Half the watchdog interval from $WATCHDOG_USEC (systemd asks for a ping at least that often;
    /// half leaves room for a slow check), nil when the watchdog is off or meant for another process.
    static func watchdogInterval(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 pid: Int32 = getpid()) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != pid { return nil }
        return .microseconds(Int64(usec / 2))
    }
}

/// Keeps what would have been sent, for checks without a service manager.
final class RecordingNotifier: ServiceManagerNotifier {
    private let sent = Mutex<[String]>([])
    func notify(_ state: String) { sent.withLock { $0.append(state) } }
    var messages: [String] { sent.withLock { $0 } }
}

import Foundation
import Logging
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Watches the kernel's routing netlink for links coming up and routes or addresses appearing
/// (a cable plugged in, Wi-Fi or the 4G modem back, DHCP done), and calls `onChange` — the push
/// loop's `wake` — so sync resumes at once instead of waiting out its backoff. Without netlink
/// (another OS, or a sandbox that forbids AF_NETLINK) it does nothing; the heartbeat still wakes
/// sync when it gets through.
public struct NetlinkWatcher: Service {
    let onChange: @Sendable () -> Void
    let logger: Logger

    public init(logger: Logger, onChange: @escaping @Sendable () -> Void) {
        self.onChange = onChange
        self.logger = logger
    }

    public func run() async throws {
        #if os(Linux)
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard fd >= 0 else {
            logger.info("network changes are not watched (no netlink socket); the heartbeat wakes sync instead",
                        metadata: ["errno": "\(errno)"])
            return
        }
        // RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
        var address = NetlinkAddress(family: UInt16(AF_NETLINK), pad: 0, pid: 0, groups: 0x1 | 0x10 | 0x40 | 0x100 | 0x400)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<NetlinkAddress>.size)) }
        }
        guard bound == 0 else {
            logger.info("network changes are not watched (netlink bind failed); the heartbeat wakes sync instead",
                        metadata: ["errno": "\(errno)"])
            close(fd)
            return
        }
        let onChange = self.onChange
        let logger = self.logger
        // A thread of its own that polls with a timeout, so it notices cancellation within a
        // second and never ties up the cooperative pool.
        let stop = StopFlag()
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            var pollfd = Glibc.pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            var lastWake = ContinuousClock.now - .seconds(10)
            while !stop.isSet {
                pollfd.revents = 0
                guard poll(&pollfd, 1, 1000) > 0 else { continue }
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard count > 0 else { continue }
                // A burst of messages (a link coming up brings several) wakes sync once.
                if ContinuousClock.now - lastWake > .seconds(1) {
                    lastWake = ContinuousClock.now
                    logger.debug("network changed: waking sync")
                    onChange()
                }
            }
            close(fd)
        }
        thread.name = "pingjia-netlink"
        thread.start()
        try? await gracefulShutdown()
        stop.set()
        #else
        try? await gracefulShutdown()
        #endif
    }
}

/// `struct sockaddr_nl` (linux/netlink.h, which the Glibc module does not bring): 12 bytes.
private struct NetlinkAddress {
    var family: UInt16
    var pad: UInt16
    var pid: UInt32
    var groups: UInt32
}

private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

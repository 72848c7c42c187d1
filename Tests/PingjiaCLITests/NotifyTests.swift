import Foundation
import Testing

/// pingjiad under `Type=notify` + `WatchdogSec=`: the test plays systemd's side of NOTIFY_SOCKET.
@Suite struct NotifyTests {
    /// A datagram socket as systemd would listen on: a path, or an abstract name ('@...').
    final class NotifySocket {
        let fd: Int32
        let name: String
        private let path: String?

        init(abstract: Bool, in dir: URL) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw SupportError("socket: \(String(cString: strerror(errno)))") }
            if abstract {
                name = "@pingjia-test-\(UUID().uuidString)"
                path = nil
            } else {
                name = dir.appendingPathComponent("notify").path
                path = name
            }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(name.utf8)
            if abstract { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (abstract ? 0 : 1))
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            guard bound == 0 else { throw SupportError("bind \(name): \(String(cString: strerror(errno)))") }
        }

        /// The next message, or nil when none came within `timeout`.
        func receive(timeout: TimeInterval) -> String? {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
        }

        /// Throws away what is queued.
        func drain() { while receive(timeout: 0) != nil {} }

        deinit {
            close(fd)
            if let path { unlink(path) }
        }
    }

    @Test(arguments: [true, false])
    func readyThenWatchdogOnlyWhileTheStoreTakesWritesThenStopping(abstract: Bool) throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            let port = try freePort()
            try Data("[web]\nlisten = \"127.0.0.1:\(port)\"\n".utf8)
                .write(to: state.appendingPathComponent("pingjia.toml"))
            let notify = try NotifySocket(abstract: abstract, in: dir)
            let daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir,
                                                environment: ["NOTIFY_SOCKET": notify.name, "WATCHDOG_USEC": "400000"])
            defer { _ = daemon.waitForExit(timeout: 0) }

            // READY=1 comes after the store is open and the web port is bound.
            let first = notify.receive(timeout: 20)
            #expect(first == "READY=1", "\(String(describing: first))\n\(daemon.log)")
            // Connecting at once, without retrying, proves the port was bound before READY=1.
            #expect(connects(port: port), "READY=1 before the web port was bound:\n\(daemon.log)")
            // Every 200 ms (half of WATCHDOG_USEC) while healthy.
            for _ in 0..<3 {
                let ping = notify.receive(timeout: 2)
                #expect(ping == "WATCHDOG=1", "\(String(describing: ping))\n\(daemon.log)")
            }

            // Make the health check's write fail. Permissions do not stop root, so the probe
            // path becomes a directory: open(O_WRONLY) on it fails with EISDIR for every user.
            // The probe file exists for an instant during each check: retry mkdir until it wins.
            let probe = state.appendingPathComponent("health-probe").path
            var made = false
            for _ in 0..<200 where !made {
                made = mkdir(probe, 0o700) == 0
                if !made { usleep(5_000) }
            }
            #expect(made, "could not put a directory at \(probe): \(String(cString: strerror(errno)))")
            #expect(daemon.waitFor("watchdog pings stopped", timeout: 5), "\(daemon.log)")
            #expect(daemon.log.contains("Is a directory"), "\(daemon.log)")
            notify.drain()
            // Three intervals without a ping: systemd would restart the daemon now.
            let silent = notify.receive(timeout: 1.2)
            #expect(silent == nil, "pinged while the store could not be written: \(String(describing: silent))")

            // Writable again: the pings resume.
            rmdir(probe)
            let resumed = notify.receive(timeout: 2)
            #expect(resumed == "WATCHDOG=1", "\(String(describing: resumed))\n\(daemon.log)")

            kill(daemon.process.processIdentifier, SIGTERM)
            var last: String?
            while let message = notify.receive(timeout: 5) {
                last = message
                if message == "STOPPING=1" { break }
            }
            #expect(last == "STOPPING=1", "\(String(describing: last))\n\(daemon.log)")
            #expect(daemon.waitForExit(timeout: 5) == 0, "\(daemon.log)")
        }
    }

    /// Without NOTIFY_SOCKET (started by hand) the daemon starts and stops as before: covered by
    /// DaemonTests.startsAndStopsCleanlyOnSignal, which runs without it.
}

/// Whether a TCP connection to 127.0.0.1:port is accepted, on the first try.
func connects(port: Int) -> Bool {
    guard let fd = try? connectLoopback(port) else { return false }
    close(fd)
    return true
}

/// A TCP connection to 127.0.0.1:`port`, whose reads give up after `receiveTimeout` if given.
func connectLoopback(_ port: Int, receiveTimeout: timeval? = nil) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw SupportError("socket: \(String(cString: strerror(errno)))") }
    if var timeout = receiveTimeout {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    guard connected else {
        let reason = String(cString: strerror(errno))
        close(fd)
        throw SupportError("connect to \(port): \(reason)")
    }
    return fd
}

/// A loopback port nothing listens on right now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard ok else { throw SupportError("no free port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
}

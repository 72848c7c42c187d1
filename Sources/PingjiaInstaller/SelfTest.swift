import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaDevices
import PingjiaKiosk
import PingjiaSync
import PingjiaUSB

/// One line of `pingjia selftest`: what was checked, how it went, and what to do when it failed.
public struct CheckResult: Sendable, Equatable {
    public enum Status: String, Sendable { case pass, fail, skip }
    public var name: String
    public var status: Status
    public var detail: String
    public var fix: String?

    public static func pass(_ name: String, _ detail: String) -> CheckResult { CheckResult(name: name, status: .pass, detail: detail) }
    public static func skip(_ name: String, _ detail: String) -> CheckResult { CheckResult(name: name, status: .skip, detail: detail) }
    public static func fail(_ name: String, _ detail: String, fix: String) -> CheckResult {
        CheckResult(name: name, status: .fail, detail: detail, fix: fix)
    }
}

/// The installer's last look before leaving the hall: the store takes durable writes, the disk has
/// room, the hub answers with a sane clock and accepts a signed test rating, every paired keypad
/// is there and answers, and the display page is served. Each check is independent: one failing
/// does not hide the others.
public struct SelfTest: Sendable {
    public static let minimumFreeBytes: UInt64 = 200 * 1024 * 1024
    public static let maximumClockOffset: TimeInterval = 30

    let kiosk: KioskContext
    let profiles: ProfileSet
    let logger: Logger

    public init(kiosk: KioskContext, profiles: ProfileSet, logger: Logger) {
        self.kiosk = kiosk
        self.profiles = profiles
        self.logger = logger
    }

    public func run() async -> [CheckResult] {
        var results = [store(), disk()]
        results += await hub()
        results += await keypads()
        results.append(await display())
        results.append(await phoneLink())
        return results
    }

    /// One staff member's QR link opens the hub's phone page with their name on it (as every
    /// sticker and the display's code must).
    func phoneLink() async -> CheckResult {
        let template = kiosk.config.qrURLTemplate
        if let placeholder = PhoneLinkCheck.placeholderProblem(template) {
            return .fail("phone link", "placeholder link \(template.template)", fix: placeholder)
        }
        guard let person = ((try? kiosk.store.staff()) ?? []).min(by: { $0.id < $1.id }) else {
            return .skip("phone link", "no staff in the roster to check a link for")
        }
        let url = template.expand(deviceId: kiosk.deviceId, staffId: person.id, windowId: person.windowId)
        if let problem = await PhoneLinkCheck.problem(.init(url: url, staffId: person.id, name: person.name)) {
            return .fail("phone link", problem, fix: "set the hub's --public-url to where phones reach it, and import the hall's roster on the hub")
        }
        return .pass("phone link", "\(url) shows \(person.name)")
    }

    // MARK: store and disk

    func store() -> CheckResult {
        if let problem = StoreHealthCheck(kiosk: kiosk).problem() {
            return .fail("store", problem, fix: "free disk space or fix the permissions of \(kiosk.location.stateDirectory), then run selftest again")
        }
        // A real fsync: some USB sticks and network mounts accept writes but fail or fake sync.
        let path = kiosk.location.path("selftest-fsync")
        let started = ContinuousClock.now
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            return .fail("store", "cannot create \(path): \(String(cString: strerror(errno)))", fix: "fix the permissions of \(kiosk.location.stateDirectory)")
        }
        let bytes = [UInt8](repeating: 0x2E, count: 4096)
        let written = write(fd, bytes, bytes.count)
        let synced = fsync(fd) == 0
        let syncErrno = errno
        close(fd)
        unlink(path)
        guard written == bytes.count, synced else {
            return .fail("store", "fsync on \(kiosk.location.stateDirectory) failed: \(String(cString: strerror(syncErrno)))",
                         fix: "put the state directory on a local disk that supports fsync")
        }
        let elapsed = ContinuousClock.now - started
        return .pass("store", "writable, fsync in \(milliseconds(elapsed)) ms (\(kiosk.location.storeFile))")
    }

    func disk() -> CheckResult {
        var stats = statvfs()
        guard statvfs(kiosk.location.stateDirectory, &stats) == 0 else {
            return .fail("disk space", "cannot read the free space of \(kiosk.location.stateDirectory): \(String(cString: strerror(errno)))",
                         fix: "check that the state directory exists")
        }
        let free = UInt64(stats.f_bavail) * UInt64(stats.f_frsize)
        let text = "\(free / (1024 * 1024)) MiB free on \(kiosk.location.stateDirectory)"
        if free < Self.minimumFreeBytes {
            return .fail("disk space", text, fix: "free at least \(Self.minimumFreeBytes / (1024 * 1024)) MiB (old logs, other files) on that disk")
        }
        return .pass("disk space", text)
    }

    // MARK: hub

    func hub() async -> [CheckResult] {
        let enrollment: Enrollment?
        do { enrollment = try Enrollment.load(kiosk.location) } catch {
            return [.fail("hub", error.description, fix: "enroll again: `pingjia enroll --hub URL --code CODE`")]
        }
        guard let enrollment else {
            return [.skip("hub", "not enrolled (offline): ratings wait on this kiosk; enroll with `pingjia enroll --hub URL --code CODE`")]
        }
        if kiosk.config.sync.mode == .pull {
            // The hub fetches from this kiosk; the hall may have no route to the hub at all.
            return [.skip("hub", "pull mode: \(enrollment.hubURL) fetches the ratings from this kiosk (check with `pingjia-hub devices list` on the hub)")]
        }
        let url = kiosk.config.sync.hubURL ?? enrollment.hubURL
        let transport: HTTPHubTransport
        do {
            transport = try HTTPHubTransport(baseURL: url, caBundle: kiosk.config.sync.caBundle, timeout: .seconds(10))
        } catch {
            return [.fail("hub", "cannot set up HTTPS with ca_bundle \(kiosk.config.sync.caBundle ?? ""): \(error)",
                          fix: "check [sync] ca_bundle in \(kiosk.location.configFile)")]
        }
        var results: [CheckResult] = []
        let started = ContinuousClock.now
        let response: HubResponse
        do {
            response = try await transport.send(method: "GET", path: "/healthz", headers: [], body: nil)
        } catch {
            await transport.shutdown()
            return [.fail("hub", "cannot reach \(url): \(error)", fix: "check the network cable, the hub's address and its firewall; ratings wait on this kiosk meanwhile")]
        }
        guard response.status == 200 else {
            await transport.shutdown()
            return [.fail("hub", "\(url)/healthz answered HTTP \(response.status)", fix: "ask the hub's operator whether pingjia-hub is running at \(url)")]
        }
        results.append(.pass("hub", "\(url) reachable in \(milliseconds(ContinuousClock.now - started)) ms"))
        results.append(clock(response.date, received: Date()))
        results.append(await roundTrip(url: url))
        await transport.shutdown()
        return results
    }

    func clock(_ header: String?, received: Date) -> CheckResult {
        guard let header, let hubTime = HTTPDate.parse(header) else {
            return .skip("clock", "the hub sent no Date header to compare with")
        }
        // The header has whole seconds: within a second is as good as it can say.
        let offset = received.timeIntervalSince(hubTime)
        let text = String(format: "%+.0f s against the hub", offset)
        if abs(offset) > Self.maximumClockOffset {
            return .fail("clock", text, fix: "set this kiosk's clock: `timedatectl set-ntp true`, or `date -s` to the hub's time; ratings carry this clock's time")
        }
        return .pass("clock", text)
    }

    func roundTrip(url: String) async -> CheckResult {
        var logger = self.logger
        logger.logLevel = .critical
        let pusher: Pusher
        do {
            guard let made = try SyncSetup.pusher(location: kiosk.location, config: kiosk.config, store: kiosk.store,
                                                  logger: logger, timeout: .seconds(10)) else {
                return .fail("test rating", "not enrolled", fix: "`pingjia enroll --hub URL --code CODE`")
            }
            pusher = made
        } catch {
            return .fail("test rating", error.description, fix: "enroll again: `pingjia enroll --hub URL --code CODE`")
        }
        let record: RatingRecord
        do {
            let staff = try? kiosk.store.staff().first
            record = try kiosk.rate(staffId: staff?.id, level: 1, channel: .keypad, flags: [.test],
                                    windowId: staff == nil ? "selftest" : nil)
        } catch {
            await pusher.transport.shutdown()
            return .fail("test rating", "cannot store a test rating: \(error)", fix: "see the store check above")
        }
        let step = await pusher.drain(deadline: .now + .seconds(20))
        await pusher.transport.shutdown()
        let state = try? kiosk.store.syncState()
        if let acked = state?.ackedThroughSeq, acked >= record.seq {
            return .pass("test rating", "seq \(record.seq), flagged test, acknowledged by the hub (signed receipt)")
        }
        if case .deadLetter(let reason) = step {
            return .fail("test rating", "the hub refused it: \(reason)",
                         fix: "the enrollment is not valid (revoked, or another hub): ask the hub operator for a new code and enroll again")
        }
        return .fail("test rating", "seq \(record.seq) not acknowledged within 20 s" + (state?.lastError.map { ": \($0)" } ?? ""),
                     fix: "check the hub's log; pingjiad keeps retrying")
    }

    // MARK: keypads and display

    func keypads() async -> [CheckResult] {
        let pairings = kiosk.config.keypads
        guard !pairings.isEmpty else {
            return [.skip("keypads", "none paired: pair each with `pingjia pair --window N` (QR and touch ratings work without)")]
        }
        let devices: [USBDeviceInfo]
        let bus: USBContext
        do {
            bus = try USBContext()
            devices = try bus.devices()
        } catch {
            return [.fail("keypads", "USB is not available: \(error)", fix: "run as the pingjia user or root, so /dev/bus/usb is readable")]
        }
        defer { bus.shutdown() }
        let daemonRuns = DaemonLock.isHeld(kiosk.location)
        var found: [(KeypadPairing, USBDeviceInfo?)] = []
        for pairing in pairings {
            found.append((pairing, devices.first { KeypadPairing.find(in: [pairing], port: $0.port, serial: $0.serial) != nil }))
        }
        var answers: [String: String?] = [:]
        if !daemonRuns {
            answers = await KeypadFinder.feedback("thanks", ports: Set(found.compactMap { $0.1?.port }), bus: bus, profiles: profiles,
                                                  logger: logger, timeout: .seconds(5))
        }
        return found.map { pairing, device in
            let name = "keypad " + (pairing.windowId.map { "window \($0)" } ?? "staff \(pairing.staffId ?? "?")")
            let place = "port \(pairing.port ?? "?")" + (pairing.serial.map { " serial \($0)" } ?? "")
            guard let device else {
                return .fail(name, "not plugged in (\(place))", fix: "plug it into port \(pairing.port ?? "?") again, or pair the new one: `pingjia pair --window \(pairing.windowId ?? "N")`")
            }
            if daemonRuns { return .pass(name, "present at port \(device.port) (pingjiad drives it)") }
            switch answers[device.port] {
            case .some(.none): return .pass(name, "present at port \(device.port), feedback answered")
            case .some(.some(let problem)): return .fail(name, "port \(device.port): \(problem)", fix: "unplug and plug it in again; check `pingjia devices list`")
            case .none: return .fail(name, "port \(device.port) did not answer within 5 s", fix: "unplug and plug it in again; check `pingjia devices list`")
            }
        }
    }

    func display() async -> CheckResult {
        guard DaemonLock.isHeld(kiosk.location) else {
            return .skip("display page", "pingjiad is not running (start it: systemctl start pingjiad)")
        }
        let host = ["0.0.0.0", "::", "[::]"].contains(kiosk.config.web.listen) ? "127.0.0.1" : kiosk.config.web.listen
        let base = "http://\(host):\(kiosk.config.web.port)"
        var window = kiosk.config.keypads.compactMap(\.windowId).first
        if window == nil, let staff = try? kiosk.store.staff() { window = staff.first?.windowId }
        let path = window.map { "/display/\($0)" } ?? "/healthz"
        let transport: HTTPHubTransport
        do { transport = try HTTPHubTransport(baseURL: base, timeout: .seconds(5)) } catch {
            return .fail("display page", "\(base): \(error)", fix: "check [web] listen in \(kiosk.location.configFile)")
        }
        let response: HubResponse
        do {
            response = try await transport.send(method: "GET", path: path, headers: [], body: nil)
        } catch {
            await transport.shutdown()
            return .fail("display page", "\(base)\(path): \(error)", fix: "check [web] listen in \(kiosk.location.configFile) and pingjiad's log")
        }
        await transport.shutdown()
        guard response.status == 200 else {
            return .fail("display page", "\(base)\(path) answered HTTP \(response.status)", fix: "see pingjiad's log: journalctl -u pingjiad")
        }
        return .pass("display page", "\(base)\(path) served")
    }

    private func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}

/// RFC 7231 IMF-fixdate, as in HTTP `Date` headers.
enum HTTPDate {
    static func parse(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}

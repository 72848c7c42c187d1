import ArgumentParser
import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaKiosk
import PingjiaStore
import PingjiaSync
import PingjiaSyncProtocol

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Enroll this kiosk with the hub, using a code from `pingjia-hub devices add`.",
        discussion: "Makes the device's Ed25519 key (<state-dir>/sync/device.key, mode 0600) and keeps the hub's public key.")

    @Option(help: "The hub's URL, e.g. https://hub.example.gov.cn:8780") var hub: String
    @Option(help: "The one-time enrollment code, e.g. ABCD-EFGH.") var code: String
    @OptionGroup var state: StateOptions

    func run() async throws {
        do {
            guard let url = URL(string: hub), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw Failure("--hub '\(hub)' must be an http:// or https:// URL, e.g. https://hub.example.gov.cn:8780")
            }
            let context = try state.open(create: true)
            defer { context.close() }
            let base = hub.hasSuffix("/") ? String(hub.dropLast()) : hub
            let transport = try HTTPHubTransport(baseURL: base, caBundle: context.config.sync.caBundle, timeout: .seconds(30))
            let enrollment: Enrollment
            do {
                enrollment = try await Enrollment.enroll(location: context.location, deviceId: context.deviceId, hubURL: base,
                                                         code: code, transport: transport)
            } catch {
                await transport.shutdown()
                throw error
            }
            await transport.shutdown()
            print("enrolled \(enrollment.deviceId) with \(enrollment.hubURL) as \(enrollment.hall) / \(enrollment.name)")
            print("hub key: \(enrollment.hubPublicKey)")
            // pingjiad reads its enrollment at start: sync, heartbeats, the hub's configuration and
            // roster, and per-transaction QR codes begin at its next start.
            if DaemonLock.isHeld(context.location) {
                print("pingjiad is running: restart it (systemctl restart pingjiad) to start syncing with the hub")
            }
        } catch {
            Self.fail(error)
        }
    }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deliver ratings to the hub.", subcommands: [Now.self, Status.self, Retry.self])

    struct Now: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push every waiting rating now, with progress (records, rate, ETA).",
            discussion: "Safe beside a running pingjiad: the hub stores each record once. Exit 1 if the hub refused for good.")

        @Option(help: "Give up after this many seconds (the daemon keeps trying).") var timeout = 600
        @OptionGroup var state: StateOptions

        func run() async throws {
            do {
                let context = try state.open()
                defer { context.close() }
                var logger = Logger(label: "pingjia.sync")
                logger.logLevel = .error
                guard let pusher = try SyncSetup.pusher(location: context.location, config: context.config,
                                                        store: context.store, logger: logger) else {
                    throw SyncError.notEnrolled(context.location.stateDirectory)
                }
                let start = try context.store.syncState()
                let total = start.pending
                let began = ContinuousClock.now
                let bar = ProgressBar(total: total, startAcked: start.ackedThroughSeq)
                let result = await pusher.drain(deadline: .now + .seconds(timeout)) { state in
                    bar.show(acked: state.ackedThroughSeq, elapsed: ContinuousClock.now - began)
                }
                await pusher.transport.shutdown()
                let end = try context.store.syncState()
                bar.finish()
                let seconds = Double((ContinuousClock.now - began).components.attoseconds) / 1e18
                    + Double((ContinuousClock.now - began).components.seconds)
                let sent = end.ackedThroughSeq - min(end.ackedThroughSeq, start.ackedThroughSeq)
                switch result {
                case .idle:
                    print("delivered \(sent) ratings in \(String(format: "%.1f", seconds)) s; acknowledged through seq \(end.ackedThroughSeq)")
                case .deadLetter(let reason):
                    throw Failure("sync stopped: \(reason)\nafter dealing with it, run `pingjia sync retry`")
                default:
                    throw Failure("gave up after \(timeout) s with \(end.pending) ratings waiting"
                                  + (end.lastError.map { ": \($0)" } ?? "") + " (pingjiad keeps trying)")
                }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enrollment, acknowledged seq, waiting ratings, last error, dead letter.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var state: StateOptions

        struct Report: Encodable {
            let enrolled: Bool
            let hubURL: String?
            let hall: String?
            let name: String?
            let pending: UInt64
            let sync: SyncState
        }

        func run() async throws {
            do {
                let context = try state.open()
                defer { context.close() }
                let enrollment = try Enrollment.load(context.location)
                let sync = try context.store.syncState()
                if json {
                    try printJSON(Report(enrolled: enrollment != nil, hubURL: context.config.sync.hubURL ?? enrollment?.hubURL,
                                         hall: enrollment?.hall, name: enrollment?.name, pending: sync.pending, sync: sync))
                    return
                }
                if let enrollment {
                    print("hub:           \(context.config.sync.hubURL ?? enrollment.hubURL) (\(enrollment.hall) / \(enrollment.name))")
                } else {
                    print("hub:           not enrolled (pingjia enroll --hub URL --code CODE)")
                }
                print("acknowledged:  through seq \(sync.ackedThroughSeq) of \(sync.lastSeq) (\(sync.pending) waiting)")
                print("last receipt:  \(sync.lastReceiptAt ?? "never")")
                if let error = sync.lastError { print("last error:    \(sync.lastErrorAt ?? "") \(error)") }
                if let reason = sync.deadLetterReason {
                    print("ALARM: sync stopped (dead letter) since \(sync.deadLetterAt ?? "?"): \(reason)")
                    print("       deal with the cause, then run `pingjia sync retry`")
                }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Clear the dead-letter state so sync tries again.")
        @OptionGroup var state: StateOptions

        func run() async throws {
            do {
                let context = try state.open()
                defer { context.close() }
                try context.store.clearDeadLetter()
                print("dead-letter state cleared; pingjiad tries again within 30 s (or run `pingjia sync now`)")
            } catch {
                Self.fail(error)
            }
        }
    }
}

/// `[#####.....]  12345/100000  2345/s  ETA 0:37` on stderr, redrawn in place on a terminal and
/// printed at most once a second otherwise (e.g. into a log).
final class ProgressBar: @unchecked Sendable {
    let total: UInt64
    let startAcked: UInt64
    let isTerminal = Terminal.standardError.isTTY
    var lastPrint = ContinuousClock.now - .seconds(2)

    init(total: UInt64, startAcked: UInt64) {
        self.total = total
        self.startAcked = startAcked
    }

    func show(acked: UInt64, elapsed: Duration) {
        guard total > 0 else { return }
        let done = min(total, acked - min(acked, startAcked))
        if !isTerminal && ContinuousClock.now - lastPrint < .seconds(1) && done < total { return }
        lastPrint = ContinuousClock.now
        let seconds = max(0.001, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let rate = Double(done) / seconds
        let eta = rate > 0 ? Int(Double(total - done) / rate) : 0
        let width = 30
        let filled = Int(Double(width) * Double(done) / Double(total))
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            + "  \(done)/\(total)  \(Int(rate))/s  ETA \(eta / 60):\(String(format: "%02d", eta % 60))"
        FileHandle.standardError.write(Data((isTerminal ? "\r" + line : line + "\n").utf8))
    }

    func finish() {
        if isTerminal && total > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

import ArgumentParser
import Dispatch
import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaDevices
import PingjiaTOML
import PingjiaUSB

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "USB rating keypads and touch terminals, and their profiles (devices/*.toml).",
        subcommands: [DevicesList.self, DevicesValidate.self, DevicesWatch.self, DevicesUdevRules.self]
    )
}

/// The profile search path: shipped, /etc/pingjia/devices, then --devices-dir.
struct ProfileOptions: ParsableArguments {
    @Option(name: .customLong("devices-dir"), help: "Another folder of device profiles (repeatable; read last, so it wins).")
    var devicesDirs: [String] = []

    func load(scales: ScaleCatalog?, defaultScale: String) -> ProfileSet {
        var set = ProfileSet.load(directories: ProfileSet.standardDirectories(extra: devicesDirs))
        if let scales { set.checkScales(scales, defaultScale: defaultScale) }
        return set
    }
}

extension StateOptions {
    /// The scales and the hall's scale name, without needing an initialised kiosk.
    var scaleContext: (ScaleCatalog, String) {
        let scale = (try? KioskConfig.load(location).scale) ?? "five"
        return (ScaleCatalog.standard(for: location), scale)
    }
}

func reportProblems(_ problems: [TOMLProblem]) {
    for problem in problems {
        FileHandle.standardError.write(Data("pingjia: profile rejected: \(problem)\n".utf8))
    }
}

struct DevicesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "The USB devices present, and which profile drives each (or none)."
    )

    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var profileOptions: ProfileOptions
    @OptionGroup var state: StateOptions

    struct Row: Encodable {
        let bus: Int
        let address: Int
        let port: String
        let vid: String
        let pid: String
        let serial: String?
        let profile: String?
        let family: String?
        let model: String?
    }

    func run() async throws {
        let (scales, scale) = state.scaleContext
        let profiles = profileOptions.load(scales: scales, defaultScale: scale)
        reportProblems(profiles.problems)
        let devices: [USBDeviceInfo]
        do {
            let context = try USBContext()
            defer { context.shutdown() }
            devices = try context.devices()
        } catch {
            Self.fail(error)
        }
        let rows = devices.map { device in
            let profile = profiles.profile(vendorId: device.vendorId, productId: device.productId, serial: device.serial,
                                           port: device.port, interfaces: device.interfaces.map(\.number))
            return Row(bus: device.id.bus, address: device.id.address, port: device.port,
                       vid: String(device.vidPid.prefix(4)), pid: String(device.vidPid.suffix(4)), serial: device.serial,
                       profile: profile?.name, family: profile?.family.rawValue, model: profile.map { "\($0.vendor) \($0.model)" })
        }
        if json {
            try printJSON(rows)
            return
        }
        if rows.isEmpty { print("no USB devices found (is /dev/bus/usb readable by this user?)") }
        for row in rows {
            let profile = row.profile.map { "\($0) (\(row.family ?? ""), \(row.model ?? ""))" } ?? "no profile"
            print("port \(row.port)\tbus \(String(format: "%03d", row.bus)) device \(String(format: "%03d", row.address))\t\(row.vid):\(row.pid)\t\(profile)")
        }
    }
}

struct DevicesValidate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check device profiles; exit 1 with every problem as file:line: reason.",
        discussion: "Without DIR, checks the profile search path (shipped, /etc/pingjia/devices, --devices-dir)."
    )

    @Argument(help: "Folders of profiles to check.") var directories: [String] = []
    @OptionGroup var profileOptions: ProfileOptions
    @OptionGroup var state: StateOptions

    func run() async throws {
        let (scales, scale) = state.scaleContext
        var set = directories.isEmpty
            ? ProfileSet.load(directories: ProfileSet.standardDirectories(extra: profileOptions.devicesDirs))
            : ProfileSet.load(directories: directories + profileOptions.devicesDirs)
        set.checkScales(scales, defaultScale: scale)
        for profile in set.profiles.sorted(by: { $0.file < $1.file }) {
            print("ok \(profile.file): \(profile.vendor) \(profile.model) (\(profile.family.rawValue), \(profile.vidPid) interface \(profile.match.interface))")
        }
        if !set.problems.isEmpty {
            Self.fail(Failure(set.problems.map(\.description).joined(separator: "\n")))
        }
    }
}

struct DevicesUdevRules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udev-rules",
        abstract: "Print udev rules giving the pingjia group the profiled devices (systemd/70-pingjia.rules)."
    )

    @OptionGroup var profileOptions: ProfileOptions

    func run() async throws {
        let set = profileOptions.load(scales: nil, defaultScale: "five")
        reportProblems(set.problems)
        print(UdevRules.generate(set.profiles), terminator: "")
    }
}

struct DevicesWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Show key presses and terminal selections live, as they would be rated (nothing is stored).",
        discussion: "Runs until Ctrl-C. With --json, one JSON object per line: events attached, press, problem, detached, unmatched."
    )

    @Flag(help: "One JSON object per line.") var json = false
    @Option(name: .customLong("staff-name"), help: "The name a touch terminal shows while being watched.")
    var staffName = "测试"
    @OptionGroup var profileOptions: ProfileOptions
    @OptionGroup var state: StateOptions

    func run() async throws {
        LoggingSystem.bootstrapOnce()
        var logger = Logger(label: "pingjia")
        logger.logLevel = .error
        let (scales, hallScale) = state.scaleContext
        let profiles = profileOptions.load(scales: scales, defaultScale: hallScale)
        reportProblems(profiles.problems)
        let context: USBContext
        do {
            context = try USBContext()
        } catch {
            Self.fail(error)
        }
        let manager = DeviceManager(bus: context, profiles: profiles, logger: logger)
        let printer = WatchPrinter(json: json, scales: scales, hallScale: hallScale)
        let staffName = self.staffName
        let task = Task {
            await manager.run { event in
                printer.print(event)
                if case .attached = event.kind, let profile = event.profile, profile.family == .serialFrame {
                    let scale = try? scales.scale(named: profile.scale ?? hallScale)
                    _ = try? await manager.send("prompt", to: event.device.id, values: TerminalPrompt.values(
                        scale: scale, staffName: staffName, separator: profile.listSeparator))
                }
            }
        }
        // Ctrl-C or SIGTERM: let go of the devices properly (release, give keyboards back to the kernel).
        let signals = [SIGINT, SIGTERM].map { signal -> DispatchSourceSignal in
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal)
            source.setEventHandler { task.cancel() }
            source.resume()
            return source
        }
        await task.value
        signals.forEach { $0.cancel() }
        context.shutdown()
    }
}

struct WatchPrinter: Sendable {
    let json: Bool
    let scales: ScaleCatalog
    let hallScale: String

    func print(_ event: DeviceEvent) {
        var object: [String: Any] = [
            "port": event.device.port,
            "device": event.device.vidPid,
        ]
        if let profile = event.profile { object["profile"] = profile.name }
        var text: String
        switch event.kind {
        case .attached:
            object["event"] = "attached"
            text = "attached"
        case let .detached(reason):
            object["event"] = "detached"
            object["reason"] = reason
            text = "detached: \(reason)"
        case .unmatched:
            object["event"] = "unmatched"
            text = "no profile matches (add one to devices/, see devices/README.md)"
        case let .problem(problem):
            object["event"] = "problem"
            object["problem"] = problem
            text = "ignored: \(problem)"
        case let .input(input):
            object["event"] = "press"
            object["key"] = input.key
            switch input.meaning {
            case let .level(level):
                let scaleName = event.profile?.scale ?? hallScale
                let label = (try? scales.scale(named: scaleName))?.level(level)?.label
                object["level"] = level
                object["scale"] = scaleName
                if let label { object["label"] = label }
                if !input.reasons.isEmpty || event.profile?.family == .serialFrame { object["reasons"] = input.reasons }
                text = "level \(level) \(label ?? "")" + (input.reasons.isEmpty ? "" : " reasons \(input.reasons.joined(separator: ","))")
            case let .action(action):
                object["action"] = action.rawValue
                text = "action \(action.rawValue)"
            }
            text = "key \(input.key): " + text
        }
        let line: String
        if json {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
            line = String(decoding: data, as: UTF8.self)
        } else {
            line = "\(event.device.port) \(event.device.vidPid) \(event.profile?.name ?? "-"): \(text)"
        }
        // One write per line, flushed: installers and tests read it live through a pipe.
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}

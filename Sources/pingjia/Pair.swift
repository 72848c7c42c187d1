import ArgumentParser
import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaDevices
import PingjiaUSB

struct Pair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Bind a keypad to a window: press any key on it when asked.",
        discussion: """
            pingjia pair --window 3          lists the unpaired keypads, then waits for a key on the one at window 3
            pingjia pair --list              the pairings in the config, and whether each keypad is plugged in
            pingjia pair --unpair --window 3 forget the keypad of window 3
            The keypad is remembered by its USB port and serial number as [[keypad]] in the config, so it
            keeps its window after a reboot or when plugged back into the same port. Stop pingjiad first
            (it holds the keypads); start it again afterwards.
            """
    )

    @Option(help: "The window the keypad serves (as in the roster's 窗口 column).")
    var window: String?

    @Option(help: "Seconds to wait for the key press.")
    var timeout: Int = 60

    @Flag(help: "List the pairings.")
    var list = false

    @Flag(help: "Remove the pairing of --window.")
    var unpair = false

    @OptionGroup var profileOptions: ProfileOptions
    @OptionGroup var state: StateOptions

    func validate() throws {
        if list && unpair { throw ValidationError("give --list or --unpair, not both") }
        // At a terminal, `pingjia pair` alone asks for the window.
        if !list && window == nil && (unpair || isatty(STDIN_FILENO) == 0) {
            throw ValidationError(unpair ? "--unpair needs --window N: the window whose keypad to forget"
                                         : "give --window N: the window whose keypad you will press")
        }
        if let window, window.isEmpty || window.contains(where: { $0.isWhitespace || $0 == "\"" }) {
            throw ValidationError("--window '\(window)' must be a window id without spaces or quotes, e.g. 3")
        }
        if !(1...3600).contains(timeout) { throw ValidationError("--timeout must be 1-3600 seconds") }
    }

    func run() async throws {
        do {
            let location = state.location
            if list { return try listPairings(location) }
            var editor = try ConfigFileEditor(path: location.configFile)
            let window = try self.window ?? Prompter(enabled: true).ask("窗口 / window", flag: "--window")
            guard Identifier.isValidID(window) else { throw Failure("window '\(window)' must be a window id such as 3") }
            if unpair {
                let removed = editor.removeKeypads { _, _, paired, _ in paired == window }
                guard removed > 0 else { throw Failure("no keypad is paired with window \(window) (see `pingjia pair --list`)") }
                try editor.save()
                print("window \(window): keypad unpaired; restart pingjiad to apply")
                return
            }
            guard !DaemonLock.isHeld(location) else {
                throw Failure("pingjiad is running on \(location.stateDirectory) and holds the keypads: stop it (systemctl stop pingjiad), pair, then start it again")
            }
            try await pair(window: window, editor: &editor)
        } catch {
            Self.fail(error)
        }
    }

    private func pair(window: String, editor: inout ConfigFileEditor) async throws {
        let location = state.location
        let config = (try? KioskConfig.load(location)) ?? KioskConfig()
        let (scales, scale) = state.scaleContext
        let profiles = profileOptions.load(scales: scales, defaultScale: scale)
        reportProblems(profiles.problems)
        let bus: USBContext
        do { bus = try USBContext() } catch { throw Failure("USB is not available (\(error)): is /dev/bus/usb readable by this user?") }
        defer { bus.shutdown() }
        let present = try bus.devices()
        let keypads = present.filter { device in
            profiles.profile(vendorId: device.vendorId, productId: device.productId, serial: device.serial,
                             port: device.port, interfaces: device.interfaces.map(\.number)) != nil
        }
        // A keypad already bound elsewhere cannot be taken by this window by accident; the one
        // already at this window may be pressed again (re-pairing it is harmless).
        let others = config.keypads.filter { $0.windowId != window }
        let unpaired = keypads.filter { KeypadPairing.find(in: others, port: $0.port, serial: $0.serial) == nil }
        guard !unpaired.isEmpty else {
            let why = keypads.isEmpty ? "no rating keypad is plugged in" : "every keypad plugged in is already paired with another window"
            throw Failure("\(why): plug the keypad for window \(window) into this machine (check with `pingjia devices list`), or see `pingjia pair --list`")
        }
        print("unpaired keypads:")
        for device in unpaired {
            print("  port \(device.port)  \(device.vidPid)  serial \(device.serial ?? "-")")
        }
        print("请按 \(window) 号窗口评价器上的任意键 / press any key on the keypad at window \(window) (waiting \(timeout) s)")
        // Through a pipe (a script, a test) the question must show before the wait, not after.
        fflush(nil)
        LoggingSystem.bootstrapOnce()
        var logger = Logger(label: "pingjia")
        logger.logLevel = .error
        let candidates = Set(unpaired.map(\.port))
        guard let pressed = await KeypadFinder.firstPress(bus: bus, profiles: profiles, logger: logger, timeout: .seconds(timeout),
                                                          accepts: { candidates.contains($0.port) }) else {
            throw Failure("no key was pressed within \(timeout) s: press a key on the keypad at window \(window), or run again with a longer --timeout")
        }
        // A serial number two plugged-in keypads share says nothing: keep only the port then.
        let sharedSerial = pressed.serial.map { serial in present.filter { $0.serial == serial }.count > 1 } ?? false
        let serial = sharedSerial ? nil : pressed.serial
        editor.removeKeypads { port, paired, pairedWindow, _ in
            pairedWindow == window || (port == pressed.port && (paired == nil || paired == pressed.serial))
                || (serial != nil && paired == serial)
        }
        editor.appendKeypad(port: pressed.port, serial: serial, window: window)
        try editor.save()
        print("window \(window): paired the keypad at port \(pressed.port)" + (serial.map { " (serial \($0))" } ?? "")
              + "; start pingjiad to use it")
    }

    private func listPairings(_ location: StateLocation) throws {
        let config: KioskConfig
        do { config = try KioskConfig.load(location) } catch { throw Failure(error.description) }
        guard !config.keypads.isEmpty else {
            print("no keypads paired: pair one with `pingjia pair --window N`")
            return
        }
        // Presence is a bonus: while pingjiad runs, or without USB, the list still prints.
        let present: [USBDeviceInfo]? = try? {
            let bus = try USBContext()
            defer { bus.shutdown() }
            return try bus.devices()
        }()
        print("window\tport\tserial\tstaff\tplugged in")
        for pairing in config.keypads {
            let here = present.map { devices in
                devices.contains { KeypadPairing.find(in: [pairing], port: $0.port, serial: $0.serial) != nil } ? "yes" : "no"
            } ?? "unknown"
            print([pairing.windowId ?? "-", pairing.port ?? "-", pairing.serial ?? "-", pairing.staffId ?? "-", here].joined(separator: "\t"))
        }
    }
}

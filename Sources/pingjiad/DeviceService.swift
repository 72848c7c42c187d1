import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaDevices
import PingjiaKiosk
import PingjiaUSB
import ServiceLifecycle

/// Drives the USB rating devices. A press becomes a rating through `KioskContext.press`, the same
/// path as the touch page, the local API and `pingjia rate`; the device is thanked only after
/// `press` returned, i.e. after the rating is on disk. The staff keys
/// (请评价, 暂停服务, sign-in) go to the session engine. Joins the service group after the store,
/// so it stops before the store closes.
struct DeviceService: Service {
    let kiosk: KioskContext
    let profiles: ProfileSet
    let sessions: SessionEngine
    let health: KioskHealth
    /// What the heartbeat reports as plugged in.
    var attached = AttachedDevices()
    let logger: Logger

    func run() async throws {
        let context: USBContext
        do {
            context = try USBContext()
        } catch {
            // QR ratings still work without USB; say so and stay up.
            logger.error("USB is not available: no keypads or terminals will be read", metadata: ["reason": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        let manager = DeviceManager(bus: context, profiles: profiles, logger: logger)
        let task = Task {
            await manager.run { event in await handle(event, manager: manager) }
        }
        try? await gracefulShutdown()
        logger.info("shutting down: letting go of the USB devices")
        task.cancel()
        await task.value
        context.shutdown()
    }

    private func pairing(_ device: USBDeviceInfo) -> KeypadPairing? {
        KeypadPairing.find(in: kiosk.config.keypads, port: device.port, serial: device.serial)
    }

    /// Whom a paired device rates when nobody is signed in at its window: the pairing's staff
    /// member, else (a keypad paired with a window by `pingjia pair`) the one person the roster
    /// has at that window.
    private func pairedStaff(_ pairing: KeypadPairing?) -> String? {
        guard let pairing else { return nil }
        if let staffId = pairing.staffId { return staffId }
        guard let window = pairing.windowId, let staff = try? kiosk.store.staff() else { return nil }
        let atWindow = staff.filter { $0.windowId == window }
        return atWindow.count == 1 ? atWindow[0].id : nil
    }

    private func handle(_ event: DeviceEvent, manager: DeviceManager) async {
        guard let profile = event.profile else { return }
        var logger = self.logger
        logger[metadataKey: "device"] = "\(event.device.port) \(event.device.vidPid)"
        logger[metadataKey: "profile"] = "\(profile.name)"
        switch event.kind {
        case .attached:
            health.usbEvent()
            attached.attached(port: event.device.port, serial: event.device.serial, profile: profile.name)
            if pairing(event.device) == nil {
                logger.warning("device is not paired with a window: its ratings are kept, flagged unarmed; pair it with `pingjia pair --window N` (port \(event.device.port))")
            }
            if profile.family == .serialFrame {
                await send("prompt", to: event, manager: manager, logger: logger)
            }
        case .input(let input):
            health.usbEvent()
            switch input.meaning {
            case .action(let action):
                staffKey(action, event: event, logger: logger)
            case .level(let level):
                await rate(level: level, input: input, event: event, profile: profile, logger: logger)
                    ? await send("thanks", to: event, manager: manager, logger: logger)
                    : await send("error", to: event, manager: manager, logger: logger)
            }
        case .problem:
            kiosk.metrics.usbError("report")   // logged by the device manager
        case .detached:
            attached.detached(port: event.device.port)   // logged by the device manager
        case .unmatched:
            break   // logged by the device manager
        }
    }

    /// The window a device rates for: the pairing's, else its staff member's in the roster; with
    /// nobody paired, the USB port, since a rating must say where it was given.
    private func window(of device: USBDeviceInfo, pairing: KeypadPairing?) -> String {
        if let pairing {
            if let window = pairing.windowId { return window }
            if let staffId = pairing.staffId, let window = try? kiosk.store.staff(id: staffId)?.windowId { return window }
        }
        return "usb-\(device.port)"
    }

    /// 请评价 arms a session, 暂停服务 toggles pause, sign-in signs the paired staff member in.
    private func staffKey(_ action: DeviceAction, event: DeviceEvent, logger: Logger) {
        let pairing = pairing(event.device)
        let windowId = window(of: event.device, pairing: pairing)
        let current = sessions.windowState(windowId)
        let serving = current.status == .signedOut ? pairedStaff(pairing) : current.staffId ?? pairedStaff(pairing)
        var logger = logger
        logger[metadataKey: "window"] = "\(windowId)"
        do {
            switch action {
            case .call:
                let session = try sessions.arm(windowId: windowId, staffId: serving, source: .keypad)
                logger.info("session armed by the keypad", metadata: ["staff": "\(session.staffId ?? "-")", "session": "\(session.id)"])
            case .pause:
                let state = try sessions.togglePause(windowId: windowId, staffId: serving)
                logger.info("staff status changed by the keypad", metadata: ["staff": "\(state.staffId ?? "-")", "status": "\(state.status.rawValue)"])
            case .signin:
                let state = try sessions.setStaff(windowId: windowId, staffId: pairedStaff(pairing), status: .signedIn)
                logger.info("staff status changed by the keypad", metadata: ["staff": "\(state.staffId ?? "-")", "status": "\(state.status.rawValue)"])
            }
        } catch {
            logger.warning("staff key ignored", metadata: ["action": "\(action.rawValue)", "reason": "\(error)"])
        }
    }

    /// Records the press through `KioskContext.press`; true once it is committed.
    private func rate(level: Int, input: DeviceInput, event: DeviceEvent, profile: DeviceProfile, logger: Logger) async -> Bool {
        let pairing = pairing(event.device)
        let windowId = window(of: event.device, pairing: pairing)
        let press = Press(windowId: windowId, level: level, scale: profile.scale, reasons: input.reasons,
                          channel: profile.family == .serialFrame ? .touch : .keypad, staffId: pairedStaff(pairing),
                          flags: pairing == nil ? [.unarmed] : [])
        do {
            let record = try await kiosk.press(press, sessions: sessions)
            logger.info("rating committed", metadata: [
                "seq": "\(record.seq)", "level": "\(level)", "staff": "\(record.rating.staffId ?? "-")",
                "flags": "\(record.rating.flags.map(\.rawValue).sorted().joined(separator: ","))",
            ])
            return true
        } catch {
            kiosk.metrics.usbError("press-not-stored")
            logger.error("press NOT recorded", metadata: ["level": "\(level)", "reason": "\(error)"])
            return false
        }
    }

    private func send(_ command: String, to event: DeviceEvent, manager: DeviceManager, logger: Logger) async {
        var values: [String: String] = [:]
        if let profile = event.profile, profile.family == .serialFrame {
            let staffName = pairedStaff(pairing(event.device)).flatMap { try? kiosk.store.staff(id: $0)?.name } ?? ""
            values = TerminalPrompt.values(scale: try? kiosk.scale(profile.scale), staffName: staffName,
                                           separator: profile.listSeparator)
        }
        do {
            try await manager.send(command, to: event.device.id, values: values)
        } catch {
            kiosk.metrics.usbError("feedback")
            logger.warning("device feedback not sent", metadata: ["command": "\(command)", "reason": "\(error)"])
        }
    }
}

import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaDevices
import PingjiaKiosk
import PingjiaUSB
import ServiceLifecycle

/// Drives the USB rating devices. A press becomes a rating through `KioskContext.rate`, the same
/// path as `pingjia rate`, and the device is thanked only after `rate` returned, i.e. after the
/// rating is on disk. Joins the service group after the store, so it stops before the store closes.
struct DeviceService: Service {
    let kiosk: KioskContext
    let profiles: ProfileSet
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

    private func handle(_ event: DeviceEvent, manager: DeviceManager) async {
        guard let profile = event.profile else { return }
        var logger = self.logger
        logger[metadataKey: "device"] = "\(event.device.port) \(event.device.vidPid)"
        logger[metadataKey: "profile"] = "\(profile.name)"
        switch event.kind {
        case .attached:
            if pairing(event.device) == nil {
                logger.warning("device is not paired with a staff member: its ratings are kept, flagged unarmed; add a [[keypad]] with port = \"\(event.device.port)\" to the config")
            }
            if profile.family == .serialFrame {
                await send("prompt", to: event, manager: manager, logger: logger)
            }
        case .input(let input):
            switch input.meaning {
            case .action(let action):
                // Sessions (请评价 arming, pause, sign-in) are handled by a later part of the daemon.
                logger.notice("staff key pressed", metadata: ["action": "\(action.rawValue)"])
            case .level(let level):
                rate(level: level, input: input, event: event, profile: profile, logger: logger)
                    ? await send("thanks", to: event, manager: manager, logger: logger)
                    : await send("error", to: event, manager: manager, logger: logger)
            }
        case .detached, .problem, .unmatched:
            break   // logged by the device manager
        }
    }

    /// Records the press; true once it is committed.
    private func rate(level: Int, input: DeviceInput, event: DeviceEvent, profile: DeviceProfile, logger: Logger) -> Bool {
        let pairing = pairing(event.device)
        let channel: RatingChannel = profile.family == .serialFrame ? .touch : .keypad
        // A rating must say where it was given; with nobody paired, that is the USB port.
        let unpairedWindow = "usb-\(event.device.port)"
        do {
            let record: RatingRecord
            do {
                record = try kiosk.rate(staffId: pairing?.staffId, level: level, scale: profile.scale, reasons: input.reasons,
                                        channel: channel, flags: pairing == nil ? [.unarmed] : [],
                                        windowId: pairing == nil ? unpairedWindow : pairing?.windowId)
            } catch .rating(let reason) where pairing != nil {
                // A pairing naming someone not (or no longer) in the roster must not cost the press.
                logger.error("paired staff not usable; the rating is kept unarmed", metadata: ["reason": "\(reason)"])
                record = try kiosk.rate(staffId: nil, level: level, scale: profile.scale, reasons: input.reasons,
                                        channel: channel, flags: [.unarmed], windowId: pairing?.windowId ?? unpairedWindow)
            }
            logger.info("rating committed", metadata: [
                "seq": "\(record.seq)", "level": "\(level)", "staff": "\(record.rating.staffId ?? "-")",
                "flags": "\(record.rating.flags.map(\.rawValue).sorted().joined(separator: ","))",
            ])
            return true
        } catch {
            logger.error("press NOT recorded", metadata: ["level": "\(level)", "reason": "\(error)"])
            return false
        }
    }

    private func send(_ command: String, to event: DeviceEvent, manager: DeviceManager, logger: Logger) async {
        var values: [String: String] = [:]
        if let profile = event.profile, profile.family == .serialFrame {
            let scale = try? kiosk.scale(profile.scale)
            let staffName = pairing(event.device).flatMap { try? kiosk.store.staff(id: $0.staffId)?.name } ?? ""
            values = [
                "staffName": staffName,
                "prompt": "请您对本次服务进行评价",
                "levels": (scale?.levels ?? []).map { "\($0.value):\($0.label)" }.joined(separator: profile.listSeparator),
                "reasons": (scale?.reasons ?? []).map { "\($0.code):\($0.label)" }.joined(separator: profile.listSeparator),
            ]
        }
        do {
            try await manager.send(command, to: event.device.id, values: values)
        } catch {
            logger.warning("device feedback not sent", metadata: ["command": "\(command)", "reason": "\(error)"])
        }
    }
}

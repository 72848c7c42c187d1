import Foundation
import Logging
import PingjiaUSB

/// "Press any key on the keypad at window 3": drives every profiled device until one that
/// `accepts` sends a key (a level or a staff key), thanks it with its own feedback (the installer
/// sees the LED or hears the beep), and gives it back to the kernel. Used by `pingjia pair`.
public enum KeypadFinder {
    public static func firstPress(bus: any USBBus, profiles: ProfileSet, logger: Logger, timeout: Duration,
                                  accepts: @escaping @Sendable (USBDeviceInfo) -> Bool,
                                  onEvent: @escaping @Sendable (DeviceEvent) -> Void = { _ in }) async -> USBDeviceInfo? {
        let manager = DeviceManager(bus: bus, profiles: profiles, logger: logger)
        let (presses, continuation) = AsyncStream.makeStream(of: USBDeviceInfo.self, bufferingPolicy: .bufferingNewest(1))
        let driving = Task {
            await manager.run { event in
                onEvent(event)
                guard case .input = event.kind, accepts(event.device) else { return }
                _ = try? await manager.send("thanks", to: event.device.id)
                continuation.yield(event.device)
                continuation.finish()
            }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        var found: USBDeviceInfo?
        for await device in presses {
            found = device
            break
        }
        timer.cancel()
        driving.cancel()
        await driving.value
        return found
    }
}

extension KeypadFinder {
    /// Opens each device at `ports` and sends it the profile's `command` (`thanks`: the LED or
    /// beep the citizen gets). Returns, per port, nil when the device took it, else why not;
    /// ports that did not come up within `timeout` are missing from the answer.
    public static func feedback(_ command: String, ports: Set<String>, bus: any USBBus, profiles: ProfileSet, logger: Logger,
                                timeout: Duration) async -> [String: String?] {
        guard !ports.isEmpty else { return [:] }
        let manager = DeviceManager(bus: bus, profiles: profiles, logger: logger)
        let (answers, continuation) = AsyncStream.makeStream(of: (String, String?).self)
        let driving = Task {
            await manager.run { event in
                guard ports.contains(event.device.port) else { return }
                switch event.kind {
                case .attached:
                    do {
                        let known = try await manager.send(command, to: event.device.id)
                        continuation.yield((event.device.port, known ? nil : "its profile has no '\(command)' feedback"))
                    } catch {
                        continuation.yield((event.device.port, "feedback failed: \(error)"))
                    }
                case .detached(let reason):
                    continuation.yield((event.device.port, "cannot be opened: \(reason)"))
                default:
                    break
                }
            }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            continuation.finish()
        }
        var results: [String: String?] = [:]
        for await (port, problem) in answers where results[port] == nil {
            results[port] = .some(problem)
            if results.count == ports.count { break }
        }
        timer.cancel()
        driving.cancel()
        await driving.value
        return results
    }
}

import Foundation
import PingjiaConfig
import PingjiaKiosk
import PingjiaSync
import PingjiaSyncProtocol

/// The rating devices plugged in now (port → profile), kept by `DeviceService` from its attach
/// and detach events, for the heartbeat.
final class AttachedDevices: @unchecked Sendable {
    private let lock = NSLock()
    private var byPort: [String: (profile: String, serial: String?)] = [:]

    func attached(port: String, serial: String?, profile: String) {
        lock.lock(); byPort[port] = (profile, serial); lock.unlock()
    }

    func detached(port: String) {
        lock.lock(); byPort[port] = nil; lock.unlock()
    }

    var all: [(port: String, serial: String?, profile: String)] {
        lock.lock(); defer { lock.unlock() }
        return byPort.map { ($0.key, $0.value.serial, $0.value.profile) }.sorted { $0.port < $1.port }
    }
}

enum FleetSnapshot {
    /// Windows and devices as the heartbeat reports them: every window the config pairs a keypad
    /// with or the session engine knows, with its staff and the devices plugged in for it.
    /// In-memory state only, so it costs the rating path nothing.
    static func take(config: KioskConfig, sessions: SessionEngine, devices: AttachedDevices) -> KioskSnapshot {
        var windowDevices: [String: [Heartbeat.DeviceReport]] = [:]
        var unpaired: [Heartbeat.DeviceReport] = []
        for device in devices.all {
            let report = Heartbeat.DeviceReport(profile: device.profile, port: device.port)
            let pairing = KeypadPairing.find(in: config.keypads, port: device.port, serial: device.serial)
            if let window = pairing?.windowId ?? pairing?.staffId.map({ "staff:\($0)" }) {
                windowDevices[window, default: []].append(report)
            } else {
                unpaired.append(report)
            }
        }
        let expected = Set(config.keypads.compactMap(\.windowId))
        var windows = Set(expected).union(windowDevices.keys)
        var states: [String: WindowState] = [:]
        for state in sessions.allWindowStates() where !state.windowId.hasPrefix("usb-") {
            states[state.windowId] = state
            windows.insert(state.windowId)
        }
        let reports = windows.sorted().map { window in
            let state = states[window]
            return Heartbeat.WindowReport(window: window, staffId: state?.staffId, staffStatus: (state?.status ?? .signedOut).rawValue,
                                          devices: windowDevices[window] ?? [], keypadExpected: expected.contains(window))
        }
        return KioskSnapshot(windows: reports, unpairedDevices: unpaired)
    }
}

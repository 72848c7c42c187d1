import Foundation
import PingjiaCore
import Synchronization

/// What /healthz reports beyond the store: when the USB layer last said anything (a device
/// attached, a key pressed), so a hall's monitor can tell a dead keypad from a quiet window.
public final class KioskHealth: Sendable {
    private let lastUSB = Mutex<String?>(nil)
    private let clock: any DeviceClock

    public init(clock: any DeviceClock = SystemDeviceClock()) { self.clock = clock }

    public func usbEvent() {
        let now = clock.now().wallClock
        lastUSB.withLock { $0 = now }
    }

    /// Device time of the last USB event, nil before the first.
    public var lastUSBEvent: String? { lastUSB.withLock { $0 } }
}

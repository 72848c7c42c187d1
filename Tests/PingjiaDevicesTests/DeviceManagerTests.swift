import Foundation
import Logging
@testable import PingjiaDevices
import PingjiaUSB
import Testing

/// The device manager's own logic, on the scripted bus (the emulator tests cover real libusb).
struct DeviceManagerTests {
    final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var events: [DeviceEvent] = []
        func add(_ event: DeviceEvent) { lock.withLock { events.append(event) } }
        var inputs: [DeviceInput] { lock.withLock { events.compactMap { if case let .input(input) = $0.kind { input } else { nil } } } }
        func count(_ predicate: (DeviceEvent) -> Bool) -> Int { lock.withLock { events.filter(predicate).count } }
    }

    func waitUntil(_ condition: () -> Bool) async throws {
        // Generous: other suites in this process may keep the few worker threads busy for a while.
        let deadline = ContinuousClock.now + .seconds(60)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw EmulatorTimeout() }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    struct EmulatorTimeout: Error {}

    func start() -> (ScriptedBus, DeviceManager, Collected, Task<Void, Never>) {
        let bus = ScriptedBus()
        let manager = DeviceManager(bus: bus, profiles: ProfileSet.load(directories: [repoRoot.appendingPathComponent("devices").path]),
                                    logger: Logger(label: "test"))
        let collected = Collected()
        let task = Task { await manager.run { collected.add($0) } }
        return (bus, manager, collected, task)
    }

    @Test func bouncesWithinTheProfilesDebounceAreOnePress() async throws {
        let (bus, _, collected, task) = start()
        defer { task.cancel() }
        let keypad = bus.add(vid: 0x1a2b, pid: 0x0005, address: 2, port: "1-1")
        try await waitUntil { collected.count { if case .attached = $0.kind { true } else { false } } == 1 }
        #expect(keypad.claimed.first.map { $0.0 == 0 && $0.1 } == true, "interface 0, kernel driver detached")
        // acme-pj5 has debounce_ms = 150: a contact bounce 0x1e down-up-down is one press.
        for report: [UInt8] in [[0, 0, 0x1e, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0x1e, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]] {
            keypad.send(report)
        }
        // Once all four are read, a press 200 ms later is a new press.
        try await waitUntil { keypad.isWaiting && collected.inputs.count == 1 }
        try await Task.sleep(for: .milliseconds(200))
        keypad.send([0, 0, 0x1e, 0, 0, 0, 0, 0])
        try await waitUntil { collected.inputs.count == 2 }
        try await Task.sleep(for: .milliseconds(50))
        #expect(collected.inputs.map(\.meaning) == [.level(1), .level(1)])
    }

    @Test func feedbackUsesTheProfilesPathAndBytes() async throws {
        let (bus, manager, collected, task) = start()
        defer { task.cancel() }
        let pj5 = bus.add(vid: 0x1a2b, pid: 0x0005, address: 2, port: "1-1")
        let pj3r = bus.add(vid: 0x1a2b, pid: 0x0103, address: 3, port: "1-2")
        try await waitUntil { collected.count { if case .attached = $0.kind { true } else { false } } == 2 }
        #expect(try await manager.send("thanks", to: pj5.info.id))
        #expect(try await manager.send("thanks", to: pj3r.info.id))
        #expect(try await manager.send("error", to: pj5.info.id) == false, "acme-pj5 has no error command")
        #expect(pj5.sent == [.control(requestType: 0x21, request: 0x09, value: 0x0200, index: 0, data: [0x07])])
        #expect(pj3r.sent == [.write(endpoint: 0x02, type: .interrupt, data: [0x02, 0x01, 0x01, 0x00])])
    }

    @Test func anUnpluggedDeviceIsClosedAndReportedDetached() async throws {
        let (bus, _, collected, task) = start()
        defer { task.cancel() }
        let keypad = bus.add(vid: 0x1a2b, pid: 0x0005, address: 2, port: "1-1")
        try await waitUntil { collected.count { if case .attached = $0.kind { true } else { false } } == 1 }
        keypad.send(nil)
        try await waitUntil { collected.count { if case .detached = $0.kind { true } else { false } } == 1 }
        #expect(keypad.closed)
        let unknown = bus.add(vid: 0x046d, pid: 0xc077, address: 3, port: "1-3")
        try await waitUntil { collected.count { if case .unmatched = $0.kind { true } else { false } } == 1 }
        #expect(unknown.claimed.isEmpty, "a device no profile matches is never touched")
    }
}

struct USBErrorTests {
    @Test func errorsNameTheLibusbErrorAndWhatToDo() {
        let access = USBError(code: USBError.access, operation: "open 1-1 (1a2b:0005)")
        #expect(access.description.hasPrefix("open 1-1 (1a2b:0005): LIBUSB_ERROR_ACCESS: "))
        #expect(access.description.contains("pingjia devices udev-rules"))
        let gone = USBError(code: USBError.noDevice, operation: "read")
        #expect(gone.isNoDevice && gone.name == "LIBUSB_ERROR_NO_DEVICE" && gone.advice.contains("plugged back in"))
        #expect(USBError(code: USBError.busy, operation: "claim").advice.contains("interface"))
    }
}

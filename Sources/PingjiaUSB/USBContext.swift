import CLibUSB
import Foundation

/// The process's one libusb context. A dedicated thread blocks in `libusb_handle_events`: every
/// transfer and hotplug callback completes there, and with nothing happening it sleeps in poll(),
/// so an idle kiosk costs no CPU.
public final class USBContext: USBBus, @unchecked Sendable {
    let context: OpaquePointer
    private let lock = NSLock()
    private var running = true
    private let stopped = DispatchSemaphore(value: 0)
    /// Devices seen by hotplug, referenced until they leave, so `open(id)` can find them.
    private var known: [USBDeviceID: OpaquePointer] = [:]
    private var hotplugHandles: [libusb_hotplug_callback_handle] = []

    public init() throws(USBError) {
        var created: OpaquePointer?
        let result = libusb_init(&created)
        guard result == 0, let created else {
            throw USBError(code: result, operation: "initialise libusb")
        }
        context = created
        let thread = Thread { [self] in eventLoop() }
        thread.name = "libusb-events"
        thread.start()
    }

    private var isRunning: Bool { lock.withLock { running } }

    private func eventLoop() {
        while isRunning {
            let result = libusb_handle_events(context)
            if result != 0 && result != LIBUSB_ERROR_INTERRUPTED.rawValue {
                // Not expected from a healthy context; don't spin if it keeps failing.
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        stopped.signal()
    }

    /// Stops the event thread and frees the context. Close every transport first.
    public func shutdown() {
        let wasRunning = lock.withLock {
            let was = running
            running = false
            return was
        }
        guard wasRunning else { return }
        for handle in lock.withLock({ hotplugHandles }) {
            libusb_hotplug_deregister_callback(context, handle)
        }
        libusb_interrupt_event_handler(context)
        stopped.wait()
        lock.withLock {
            for device in known.values { libusb_unref_device(device) }
            known = [:]
        }
        libusb_exit(context)
    }

    // MARK: Enumeration and hotplug

    public func devices() throws(USBError) -> [USBDeviceInfo] {
        var list: UnsafeMutablePointer<OpaquePointer?>?
        let count = libusb_get_device_list(context, &list)
        guard count >= 0, let list else {
            throw USBError(code: Int32(count), operation: "list USB devices")
        }
        defer { libusb_free_device_list(list, 1) }
        var result: [USBDeviceInfo] = []
        for index in 0..<count {
            guard let device = list[index] else { continue }
            // Root hubs are not devices anyone rates with.
            if libusb_get_parent(device) == nil && libusb_get_port_number(device) == 0 { continue }
            result.append(Self.describe(device))
        }
        return result.sorted { $0.port < $1.port }
    }

    public func hotplugEvents() -> AsyncStream<USBHotplugEvent> {
        let (stream, continuation) = AsyncStream<USBHotplugEvent>.makeStream(bufferingPolicy: .unbounded)
        // Lives as long as the process: libusb may still be inside the callback on its own thread
        // when the stream ends, so freeing it then would race.
        let box = Unmanaged.passRetained(HotplugBox(owner: self, continuation: continuation))
        var handle: libusb_hotplug_callback_handle = 0
        let events = Int32(LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED.rawValue | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT.rawValue)
        let result = libusb_hotplug_register_callback(
            context, events, Int32(LIBUSB_HOTPLUG_ENUMERATE.rawValue),
            LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
            hotplugCallback, box.toOpaque(), &handle)
        if result != 0 {
            continuation.finish()
            return stream
        }
        lock.withLock { hotplugHandles.append(handle) }
        let registered = handle
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let stillRunning = self.lock.withLock { () -> Bool in
                self.hotplugHandles.removeAll { $0 == registered }
                return self.running
            }
            if stillRunning { libusb_hotplug_deregister_callback(self.context, registered) }
        }
        return stream
    }

    fileprivate func hotplug(device: OpaquePointer, arrived: Bool, continuation: AsyncStream<USBHotplugEvent>.Continuation) {
        let id = USBDeviceID(bus: Int(libusb_get_bus_number(device)), address: Int(libusb_get_device_address(device)))
        if arrived {
            if libusb_get_parent(device) == nil && libusb_get_port_number(device) == 0 { return }
            libusb_ref_device(device)
            let previous = lock.withLock { () -> OpaquePointer? in
                let previous = known[id]
                known[id] = device
                return previous
            }
            if let previous { libusb_unref_device(previous) }
            continuation.yield(.arrived(Self.describe(device)))
        } else {
            let previous = lock.withLock { known.removeValue(forKey: id) }
            if let previous { libusb_unref_device(previous) }
            continuation.yield(.left(id))
        }
    }

    // MARK: Opening

    public func open(_ id: USBDeviceID, accessRetry: Duration) async throws(USBError) -> any USBTransport {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: accessRetry)
        while true {
            let device: OpaquePointer? = lock.withLock {
                if let device = known[id] { libusb_ref_device(device) }
                return known[id]
            }
            guard let device else {
                throw USBError(code: USBError.noDevice, operation: "open USB device \(id)")
            }
            defer { libusb_unref_device(device) }
            let info = Self.describe(device)
            var handle: OpaquePointer?
            let result = libusb_open(device, &handle)
            if result == 0, let handle {
                return USBDeviceHandle(context: self, handle: handle, info: info)
            }
            let error = USBError(code: result, operation: "open \(info.port) (\(info.vidPid))")
            guard result == USBError.access, clock.now < deadline else { throw error }
            do {
                try await Task.sleep(for: .milliseconds(250))
            } catch {
                throw USBError(code: USBError.interrupted, operation: "open \(info.port) (\(info.vidPid))")
            }
        }
    }

    // MARK: Descriptors

    static func describe(_ device: OpaquePointer) -> USBDeviceInfo {
        let bus = Int(libusb_get_bus_number(device))
        let id = USBDeviceID(bus: bus, address: Int(libusb_get_device_address(device)))
        var ports = [UInt8](repeating: 0, count: 8)
        let depth = libusb_get_port_numbers(device, &ports, Int32(ports.count))
        let port = depth > 0 ? "\(bus)-" + ports[0..<Int(depth)].map { String($0) }.joined(separator: ".") : "\(bus)-0"
        var descriptor = libusb_device_descriptor()
        _ = libusb_get_device_descriptor(device, &descriptor)
        var interfaces: [USBInterfaceInfo] = []
        var config: UnsafeMutablePointer<libusb_config_descriptor>?
        if libusb_get_active_config_descriptor(device, &config) != 0 {
            _ = libusb_get_config_descriptor(device, 0, &config)
        }
        if let config {
            defer { libusb_free_config_descriptor(config) }
            for i in 0..<Int(config.pointee.bNumInterfaces) {
                let interface = config.pointee.interface[i]
                guard interface.num_altsetting > 0 else { continue }
                let alt = interface.altsetting[0]
                var endpoints: [USBEndpointInfo] = []
                for e in 0..<Int(alt.bNumEndpoints) {
                    let endpoint = alt.endpoint[e]
                    let type: USBTransferType = switch endpoint.bmAttributes & 0x03 {
                    case 0: .control
                    case 1: .isochronous
                    case 2: .bulk
                    default: .interrupt
                    }
                    endpoints.append(USBEndpointInfo(address: endpoint.bEndpointAddress, type: type,
                                                     maxPacketSize: Int(endpoint.wMaxPacketSize)))
                }
                interfaces.append(USBInterfaceInfo(number: Int(alt.bInterfaceNumber), interfaceClass: Int(alt.bInterfaceClass),
                                                   subclass: Int(alt.bInterfaceSubClass),
                                                   interfaceProtocol: Int(alt.bInterfaceProtocol), endpoints: endpoints))
            }
        }
        return USBDeviceInfo(id: id, port: port, vendorId: descriptor.idVendor, productId: descriptor.idProduct,
                             serial: sysfsSerial(port: port), interfaces: interfaces)
    }

    /// The serial number as the kernel read it at enumeration: no need to open the device (which
    /// may not be permitted yet) or to ask it again.
    static func sysfsSerial(port: String) -> String? {
        guard let data = FileManager.default.contents(atPath: "/sys/bus/usb/devices/\(port)/serial"),
              let text = String(data: data, encoding: .utf8) else { return nil }
        let serial = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return serial.isEmpty ? nil : serial
    }
}

private final class HotplugBox: @unchecked Sendable {
    weak var owner: USBContext?
    let continuation: AsyncStream<USBHotplugEvent>.Continuation

    init(owner: USBContext, continuation: AsyncStream<USBHotplugEvent>.Continuation) {
        self.owner = owner
        self.continuation = continuation
    }
}

private let hotplugCallback: libusb_hotplug_callback_fn = { _, device, event, userData in
    guard let device, let userData else { return 0 }
    let box = Unmanaged<HotplugBox>.fromOpaque(userData).takeUnretainedValue()
    box.owner?.hotplug(device: device, arrived: event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, continuation: box.continuation)
    return 0
}

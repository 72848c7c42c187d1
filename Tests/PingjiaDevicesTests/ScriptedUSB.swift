import Foundation
import PingjiaUSB

/// A test double for the USB bus, for the device manager's own logic (debounce, feedback
/// encoding, claiming). The acceptance tests never use it: they run real libusb against umockdev.
final class ScriptedBus: USBBus, @unchecked Sendable {
    let lock = NSLock()
    let hotplug: AsyncStream<USBHotplugEvent>
    let plug: AsyncStream<USBHotplugEvent>.Continuation
    var transports: [USBDeviceID: ScriptedTransport] = [:]

    init() {
        (hotplug, plug) = AsyncStream<USBHotplugEvent>.makeStream()
    }

    func hotplugEvents() -> AsyncStream<USBHotplugEvent> { hotplug }

    func devices() throws(USBError) -> [USBDeviceInfo] { lock.withLock { transports.values.map(\.info) } }

    func open(_ id: USBDeviceID, accessRetry: Duration) async throws(USBError) -> any USBTransport {
        guard let transport = lock.withLock({ transports[id] }) else {
            throw USBError(code: USBError.noDevice, operation: "open \(id)")
        }
        return transport
    }

    /// Plugs in a device with one interface (interrupt IN 0x81, OUT 0x02).
    @discardableResult
    func add(vid: UInt16, pid: UInt16, address: Int, port: String) -> ScriptedTransport {
        let info = USBDeviceInfo(id: USBDeviceID(bus: 1, address: address), port: port, vendorId: vid, productId: pid, serial: nil,
                                 interfaces: [USBInterfaceInfo(number: 0, interfaceClass: 3, subclass: 0, interfaceProtocol: 0, endpoints: [
                                     USBEndpointInfo(address: 0x81, type: .interrupt, maxPacketSize: 8),
                                     USBEndpointInfo(address: 0x02, type: .interrupt, maxPacketSize: 8),
                                 ])])
        let transport = ScriptedTransport(info: info)
        lock.withLock { transports[info.id] = transport }
        plug.yield(.arrived(info))
        return transport
    }
}

final class ScriptedTransport: USBTransport, @unchecked Sendable {
    enum Sent: Equatable {
        case control(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8])
        case write(endpoint: UInt8, type: USBTransferType, data: [UInt8])
    }

    let info: USBDeviceInfo
    private let lock = NSLock()
    private var reports: [[UInt8]] = []
    private var waiting: CheckedContinuation<[UInt8]?, Never>?
    private(set) var sent: [Sent] = []
    private(set) var claimed: [(Int, Bool)] = []
    private(set) var closed = false

    init(info: USBDeviceInfo) { self.info = info }

    /// A read is pending and nothing is queued: everything sent so far has been read.
    var isWaiting: Bool { lock.withLock { waiting != nil && reports.isEmpty } }

    /// The device sends `bytes`; nil unplugs it.
    func send(_ bytes: [UInt8]?) {
        lock.lock()
        if let waiting {
            self.waiting = nil
            lock.unlock()
            waiting.resume(returning: bytes)
            return
        }
        reports.append(bytes ?? [])
        lock.unlock()
    }

    func claim(interface: Int, detachKernelDriver: Bool) throws(USBError) {
        lock.withLock { claimed.append((interface, detachKernelDriver)) }
    }

    func read(endpoint: UInt8, type: USBTransferType, length: Int, timeout: Duration?) async throws(USBError) -> [UInt8] {
        let bytes: [UInt8]? = await withCheckedContinuation { continuation in
            lock.lock()
            if !reports.isEmpty {
                let next = reports.removeFirst()
                lock.unlock()
                continuation.resume(returning: next.isEmpty ? nil : next)
            } else {
                waiting = continuation
                lock.unlock()
            }
        }
        guard let bytes else { throw USBError(code: USBError.noDevice, operation: "read") }
        return bytes
    }

    func write(endpoint: UInt8, type: USBTransferType, data: [UInt8], timeout: Duration?) async throws(USBError) -> Int {
        lock.withLock { sent.append(.write(endpoint: endpoint, type: type, data: data)) }
        return data.count
    }

    func control(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8],
                 readLength: Int, timeout: Duration?) async throws(USBError) -> [UInt8] {
        lock.withLock { sent.append(.control(requestType: requestType, request: request, value: value, index: index, data: data)) }
        return []
    }

    func close() { lock.withLock { closed = true } }
}

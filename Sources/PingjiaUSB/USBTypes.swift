/// Identifies a plugged-in device for as long as it stays plugged in: the kernel gives a device a
/// new address on every plug, so a replugged keypad is a new `USBDeviceID`.
public struct USBDeviceID: Sendable, Hashable, Codable, CustomStringConvertible {
    public let bus: Int
    public let address: Int

    public init(bus: Int, address: Int) {
        self.bus = bus
        self.address = address
    }

    public var description: String { String(format: "%03d/%03d", bus, address) }
}

public enum USBTransferType: String, Sendable, Codable {
    case control, isochronous, bulk, interrupt
}

public struct USBEndpointInfo: Sendable, Hashable, Codable {
    public let address: UInt8
    public let type: USBTransferType
    public let maxPacketSize: Int

    public init(address: UInt8, type: USBTransferType, maxPacketSize: Int) {
        self.address = address
        self.type = type
        self.maxPacketSize = maxPacketSize
    }

    public var isInput: Bool { address & 0x80 != 0 }
}

public struct USBInterfaceInfo: Sendable, Hashable, Codable {
    public let number: Int
    public let interfaceClass: Int
    public let subclass: Int
    public let interfaceProtocol: Int
    public let endpoints: [USBEndpointInfo]

    public init(number: Int, interfaceClass: Int, subclass: Int, interfaceProtocol: Int, endpoints: [USBEndpointInfo]) {
        self.number = number
        self.interfaceClass = interfaceClass
        self.subclass = subclass
        self.interfaceProtocol = interfaceProtocol
        self.endpoints = endpoints
    }
}

/// What is known about a device without opening it (descriptors cached by the kernel, sysfs).
public struct USBDeviceInfo: Sendable, Hashable, Codable {
    public let id: USBDeviceID
    /// The physical port path as the kernel names it, e.g. `1-1.2`: stable across replugs.
    public let port: String
    public let vendorId: UInt16
    public let productId: UInt16
    public let serial: String?
    public let interfaces: [USBInterfaceInfo]

    public init(id: USBDeviceID, port: String, vendorId: UInt16, productId: UInt16, serial: String?,
                interfaces: [USBInterfaceInfo]) {
        self.id = id
        self.port = port
        self.vendorId = vendorId
        self.productId = productId
        self.serial = serial
        self.interfaces = interfaces
    }

    /// `1a2b:0005`, as lsusb and udev write it.
    public var vidPid: String { hex4(vendorId) + ":" + hex4(productId) }
}

func hex4(_ value: UInt16) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 4 - digits.count) + digits
}

public enum USBHotplugEvent: Sendable {
    case arrived(USBDeviceInfo)
    case left(USBDeviceID)
}

/// The USB bus as the device layer sees it. `USBContext` is the libusb implementation; tests of
/// driver logic may put a double in its place, the emulator tests never do.
public protocol USBBus: Sendable {
    /// Arrivals (starting with every device already present) and departures, until cancelled.
    func hotplugEvents() -> AsyncStream<USBHotplugEvent>
    /// The devices present now.
    func devices() throws(USBError) -> [USBDeviceInfo]
    /// Opens a device; retries `LIBUSB_ERROR_ACCESS` for `accessRetry` (udev may still be
    /// applying the permissions of a device that has just arrived).
    func open(_ id: USBDeviceID, accessRetry: Duration) async throws(USBError) -> any USBTransport
}

/// One opened device. Every transfer is `async` and can be cancelled; a `nil` timeout waits for
/// as long as it takes (a keypad waiting for the next press), which costs no CPU.
public protocol USBTransport: AnyObject, Sendable {
    var info: USBDeviceInfo { get }
    /// Claims `interface`, first detaching the kernel driver if asked (a keypad that enumerates as
    /// a keyboard must not type into the kiosk's screen); `close()` gives it back.
    func claim(interface: Int, detachKernelDriver: Bool) throws(USBError)
    func read(endpoint: UInt8, type: USBTransferType, length: Int, timeout: Duration?) async throws(USBError) -> [UInt8]
    func write(endpoint: UInt8, type: USBTransferType, data: [UInt8], timeout: Duration?) async throws(USBError) -> Int
    func control(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8],
                 readLength: Int, timeout: Duration?) async throws(USBError) -> [UInt8]
    /// Releases claimed interfaces, reattaches kernel drivers it detached, closes. Idempotent.
    func close()
}

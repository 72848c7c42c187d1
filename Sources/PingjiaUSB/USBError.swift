import CLibUSB

/// A libusb failure, named as libusb names it (so it can be searched for) and phrased with what
/// an installer can do about it.
public struct USBError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `libusb_error` code, e.g. `LIBUSB_ERROR_ACCESS` (-3).
    public let code: Int32
    /// What Pingjia was doing, e.g. "open 1-1 (1a2b:0005)".
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    public static let noDevice = LIBUSB_ERROR_NO_DEVICE.rawValue
    public static let access = LIBUSB_ERROR_ACCESS.rawValue
    public static let timeout = LIBUSB_ERROR_TIMEOUT.rawValue
    public static let busy = LIBUSB_ERROR_BUSY.rawValue
    public static let notFound = LIBUSB_ERROR_NOT_FOUND.rawValue
    public static let pipe = LIBUSB_ERROR_PIPE.rawValue
    public static let overflow = LIBUSB_ERROR_OVERFLOW.rawValue
    public static let io = LIBUSB_ERROR_IO.rawValue
    public static let interrupted = LIBUSB_ERROR_INTERRUPTED.rawValue

    /// `LIBUSB_ERROR_NO_DEVICE`, …
    public var name: String { String(cString: libusb_error_name(code)) }

    public var isNoDevice: Bool { code == Self.noDevice }

    public var advice: String {
        switch code {
        case Self.access:
            "this user may not open the device node: install the udev rules (`pingjia devices udev-rules`) and make sure the service user is in the pingjia group"
        case Self.noDevice:
            "the device was unplugged; it is taken up again when it is plugged back in"
        case Self.busy:
            "another program or kernel driver holds the interface: stop the other program, or check `interface` in the profile's [match]"
        case Self.notFound:
            "the device has no such interface or endpoint: check [match] interface and the endpoints in the profile"
        case Self.timeout:
            "the device did not answer in time: check the cable, or raise the timeout in the profile's [quirks]"
        case Self.pipe:
            "the device refused the request (stall): check the report templates in the profile"
        case Self.overflow:
            "the device sent more bytes than asked for: check the report length in the profile"
        case LIBUSB_ERROR_NOT_SUPPORTED.rawValue:
            "this libusb or kernel cannot do that on this device (is usbfs mounted at /dev/bus/usb?)"
        case LIBUSB_ERROR_NO_MEM.rawValue:
            "the machine is out of memory"
        default:
            "unplug the device and plug it in again; if it persists, the device or its cable may be faulty"
        }
    }

    public var description: String { "\(operation): \(name): \(advice)" }

    /// Maps a finished transfer's status onto the error a synchronous call would have given.
    static func transferStatus(_ status: libusb_transfer_status) -> Int32 {
        switch status {
        case LIBUSB_TRANSFER_TIMED_OUT: Self.timeout
        case LIBUSB_TRANSFER_STALL: Self.pipe
        case LIBUSB_TRANSFER_NO_DEVICE: Self.noDevice
        case LIBUSB_TRANSFER_OVERFLOW: Self.overflow
        case LIBUSB_TRANSFER_CANCELLED: Self.interrupted
        default: Self.io
        }
    }
}

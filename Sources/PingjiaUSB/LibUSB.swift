import CLibUSB

/// Facts about the libusb this build links, for `pingjia version` and bug reports.
/// All USB I/O of Pingjia goes through this module; nothing else imports CLibUSB.
public enum LibUSB {
    /// e.g. `1.0.26.11724`.
    public static var version: String {
        guard let version = libusb_get_version()?.pointee else { return "unknown" }
        return "\(version.major).\(version.minor).\(version.micro).\(version.nano)"
    }

    public static var hasHotplug: Bool {
        libusb_has_capability(UInt32(LIBUSB_CAP_HAS_HOTPLUG.rawValue)) != 0
    }
}

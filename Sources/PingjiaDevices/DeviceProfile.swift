import Foundation
import PingjiaTOML

/// The protocol family a profile's device speaks; each has one driver in this module.
public enum DeviceFamily: String, Sendable, Codable, CaseIterable {
    /// A USB boot keyboard: 8-byte reports, keys are HID usage codes.
    case hidKeyboard = "hid-keyboard"
    /// Vendor HID reports: a key is a byte (and optionally a bit) of the report.
    case hidReport = "hid-report"
    /// A touch terminal with a framed text protocol over bulk endpoints (USB CDC style).
    case serialFrame = "serial-frame"
}

/// What pressing a key means.
public enum KeyMeaning: Sendable, Hashable, Codable {
    case level(Int)
    case action(DeviceAction)
}

public enum DeviceAction: String, Sendable, Hashable, Codable, CaseIterable {
    /// 请评价: staff asks the citizen to rate (arms a rating session).
    case call
    /// 暂停服务.
    case pause
    case signin
}

/// Which USB interface a profile drives.
public struct DeviceMatch: Sendable, Hashable, Codable {
    public var vendorId: UInt16
    public var productId: UInt16
    public var interface: Int
    public var serial: String?
    public var port: String?
}

/// One `[[key]]` of a `hid-report` profile: the key is down when `byte` of the report equals
/// `value`, or when `bit` of it is set.
public struct ReportKey: Sendable, Hashable, Codable {
    public var byte: Int
    public var value: UInt8?
    public var bit: Int?
    public var meaning: KeyMeaning
    public var line: Int?

    func isDown(in report: [UInt8]) -> Bool {
        guard byte < report.count else { return false }
        if let bit { return report[byte] & (1 << UInt8(bit)) != 0 }
        return report[byte] == value
    }
}

public enum FeedbackPath: String, Sendable, Codable {
    /// HID SET_REPORT (output report) on the control pipe.
    case setReport = "set-report"
    /// An interrupt OUT endpoint.
    case interruptOut = "interrupt-out"
}

/// A device model, read from one profile file.
public struct DeviceProfile: Sendable, Codable {
    /// The file name without `.toml`, e.g. `acme-pj5`.
    public var name: String
    public var file: String
    public var vendor: String
    public var model: String
    public var family: DeviceFamily
    /// The scale the keys are labelled for; nil means the hall's scale.
    public var scale: String?
    public var match: DeviceMatch

    // hid-keyboard / hid-report
    public var inEndpoint: UInt8?
    public var reportLength: Int
    public var reportId: UInt8?
    /// hid-keyboard: usage code → meaning.
    public var usageKeys: [UInt8: KeyMeaning] = [:]
    /// hid-report: conditions on report bytes.
    public var reportKeys: [ReportKey] = []
    public var feedbackPath: FeedbackPath = .setReport
    public var feedbackEndpoint: UInt8?
    /// Named feedback commands (`thanks`, `error`, …) as raw bytes (hid) or text templates (serial-frame).
    public var feedback: [String: [UInt8]] = [:]

    // serial-frame
    public var outEndpoint: UInt8?
    public var frameStart: [UInt8] = []
    public var frameEnd: [UInt8] = []
    public var listSeparator = ","
    public var commands: [String: String] = [:]
    public var responses: [String: String] = [:]

    // quirks
    public var debounceMilliseconds = 0
    public var detachKernelDriver = true

    /// `1a2b:0005`.
    public var vidPid: String {
        String(format: "%04x:%04x", match.vendorId, match.productId)
    }
}

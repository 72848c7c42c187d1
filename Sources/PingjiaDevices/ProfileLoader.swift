import Foundation
import PingjiaConfig
import PingjiaTOML

/// Reads device profiles strictly. A file with any problem is rejected whole, with every problem
/// as `file:line: reason`; the other files still load, so one typo never silences a hall's
/// other keypads.
public struct ProfileSet: Sendable {
    public private(set) var profiles: [DeviceProfile] = []
    public private(set) var problems: [TOMLProblem] = []
    /// The directories read, in order.
    public private(set) var directories: [String] = []

    public init() {}

    /// The search path: the shipped profiles, `/etc/pingjia/devices`, then `extra` (`--devices-dir`).
    public static func standardDirectories(extra: [String] = []) -> [String] {
        var result: [String] = []
        if let shipped = DataDirectories.shipped("devices") { result.append(shipped) }
        result.append("/etc/pingjia/devices")
        result += extra
        return result
    }

    public static func load(directories: [String]) -> ProfileSet {
        var set = ProfileSet()
        for directory in directories { set.load(directory: directory) }
        return set
    }

    /// Adds every `*.toml` below `directory` (one level of kind folders, `keypads/`, `terminals/`,
    /// and the directory itself). A profile with the same `[match]` as one from an earlier
    /// directory replaces it; two in the same directory are a conflict and the later is rejected.
    public mutating func load(directory: String) {
        directories.append(directory)
        let files = Self.profileFiles(in: directory)
        var fromThisDirectory: [DeviceMatch: String] = [:]
        for file in files {
            do {
                let profile = try ProfileParser.parse(file: file)
                if let other = fromThisDirectory[profile.match] {
                    let line = (try? TOMLDocument(contentsOf: file))?.line(of: ["match"])
                    problems.append(TOMLProblem(file: file, line: line,
                                                message: "same [match] (\(profile.vidPid) interface \(profile.match.interface)) as \(other): "
                                                    + "two profiles cannot drive one device; delete one, or add serial/port to tell the units apart"))
                    continue
                }
                fromThisDirectory[profile.match] = file
                profiles.removeAll { $0.match == profile.match }
                profiles.append(profile)
            } catch {
                problems += error.problems
            }
        }
    }

    static func profileFiles(in directory: String) -> [String] {
        let manager = FileManager.default
        guard let entries = try? manager.contentsOfDirectory(atPath: directory) else { return [] }
        var files: [String] = []
        for entry in entries.sorted() {
            let path = (directory as NSString).appendingPathComponent(entry)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                let inner = ((try? manager.contentsOfDirectory(atPath: path)) ?? []).sorted().filter { $0.hasSuffix(".toml") }
                files += inner.map { (path as NSString).appendingPathComponent($0) }
            } else if entry.hasSuffix(".toml") {
                files.append(path)
            }
        }
        return files
    }

    /// The profile that drives `interface` of a device, the most specific one (serial, then port)
    /// when several match.
    public func profile(vendorId: UInt16, productId: UInt16, serial: String?, port: String,
                        interfaces: [Int]) -> DeviceProfile? {
        profiles.filter { profile in
            profile.match.vendorId == vendorId && profile.match.productId == productId
                && interfaces.contains(profile.match.interface)
                && (profile.match.serial == nil || profile.match.serial == serial)
                && (profile.match.port == nil || profile.match.port == port)
        }.max { specificity($0) < specificity($1) }
    }

    private func specificity(_ profile: DeviceProfile) -> Int {
        (profile.match.serial != nil ? 2 : 0) + (profile.match.port != nil ? 1 : 0)
    }
}

extension DeviceProfile {
    /// Parses one profile from text; `file` names it in problems and gives the profile its name.
    public static func parse(text: String, file: String) throws(TOMLProblems) -> DeviceProfile {
        try ProfileParser.parse(TOMLDocument(text: text, file: file), file: file)
    }
}

enum ProfileParser {
    static func parse(file: String) throws(TOMLProblems) -> DeviceProfile {
        try parse(TOMLDocument(contentsOf: file), file: file)
    }

    static func parse(_ document: TOMLDocument, file: String) throws(TOMLProblems) -> DeviceProfile {
        let root = document.root
        let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        let vendor = root.string("vendor", required: true)
        let model = root.string("model", required: true)
        var family: DeviceFamily?
        if let text = root.string("family", required: true) {
            family = DeviceFamily(rawValue: text)
            if family == nil {
                root.problem("family", "family '\(text)' is not one Pingjia knows: use one of "
                             + DeviceFamily.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        let scale = root.string("scale")

        var match: DeviceMatch?
        if let table = root.table("match", required: true) {
            let vid = uint16(table, "vid")
            let pid = uint16(table, "pid")
            let interface = table.int("interface", required: true)
            if let interface, !(0...255).contains(interface) { table.problem("interface", "interface \(interface) must be 0…255") }
            let serial = table.string("serial")
            let port = table.string("port")
            if let port, port.range(of: #"^[0-9]+-[0-9]+(\.[0-9]+)*$"#, options: .regularExpression) == nil {
                table.problem("port", "port '\(port)' must be a USB port path like 1-1.2 (see `pingjia devices list`)")
            }
            if let vid, let pid, let interface {
                match = DeviceMatch(vendorId: vid, productId: pid, interface: interface, serial: serial, port: port)
            }
        }

        var profile = DeviceProfile(name: name, file: file, vendor: vendor ?? "", model: model ?? "",
                                    family: family ?? .hidKeyboard, scale: scale,
                                    match: match ?? DeviceMatch(vendorId: 0, productId: 0, interface: 0),
                                    inEndpoint: nil, reportLength: 8)
        switch family {
        case .hidKeyboard: parseKeyboard(root, &profile)
        case .hidReport: parseReport(root, &profile)
        case .serialFrame: parseSerial(root, &profile)
        case nil: break
        }
        if let quirks = root.table("quirks") {
            if let debounce = quirks.int("debounce_ms") {
                if (0...5000).contains(debounce) { profile.debounceMilliseconds = debounce } else {
                    quirks.problem("debounce_ms", "debounce_ms \(debounce) must be 0…5000")
                }
            }
            if let detach = quirks.bool("detach_kernel_driver") { profile.detachKernelDriver = detach }
        }
        try document.finish()
        return profile
    }

    // MARK: Families

    private static func parseKeyboard(_ root: TOMLReader, _ profile: inout DeviceProfile) {
        if let report = root.table("report") {
            profile.inEndpoint = endpoint(report, "endpoint", input: true)
            if let length = report.int("length") { profile.reportLength = length }
        }
        if let keys = root.table("keys", required: true) {
            for key in keys.keys.sorted() {
                guard let code = hexByte(key) else {
                    keys.problem(key, "key '\(key)' must be a HID usage code in hex, e.g. 0x1e for the digit 1")
                    continue
                }
                if let meaning = meaning(keys, key) { profile.usageKeys[code] = meaning }
            }
            if keys.keys.isEmpty { keys.problem(nil, "[keys] is empty: map at least one key to a level") }
        }
        if let actions = root.table("actions") {
            for name in actions.keys.sorted() {
                guard let action = DeviceAction(rawValue: name) else {
                    actions.problem(name, "unknown action '\(name)': use \(DeviceAction.allCases.map(\.rawValue).joined(separator: ", "))")
                    continue
                }
                guard let code = actions.int(name) else { continue }
                guard (1...255).contains(code) else { actions.problem(name, "\(name) = \(code) is not a HID usage code (0x01…0xff)"); continue }
                if profile.usageKeys[UInt8(code)] != nil {
                    actions.problem(name, "usage code 0x\(String(code, radix: 16)) is already a level key in [keys]")
                    continue
                }
                profile.usageKeys[UInt8(code)] = .action(action)
            }
        }
        parseFeedback(root, &profile)
    }

    private static func parseReport(_ root: TOMLReader, _ profile: inout DeviceProfile) {
        if let report = root.table("report", required: true) {
            profile.inEndpoint = endpoint(report, "endpoint", input: true)
            if let length = report.int("length", required: true) {
                if (1...64).contains(length) { profile.reportLength = length } else {
                    report.problem("length", "length \(length) must be 1…64 bytes")
                }
            }
            if let id = report.int("report_id") {
                if (0...255).contains(id) { profile.reportId = UInt8(id) } else { report.problem("report_id", "report_id must be 0…255") }
            }
        }
        if let keys = root.tables("key", required: true) {
            for key in keys {
                guard let byte = key.int("byte", required: true) else {
                    // Still read the rest, so its problems are reported in the same run.
                    _ = key.int("value"); _ = key.int("bit"); _ = meaning(key, nil)
                    continue
                }
                if byte < 0 || byte >= profile.reportLength {
                    key.problem("byte", "byte \(byte) is outside the \(profile.reportLength)-byte report")
                }
                let value = key.int("value")
                let bit = key.int("bit")
                if value == nil && bit == nil { key.problem(nil, "a [[key]] needs value (the byte equals it) or bit (that bit is set)") }
                if value != nil && bit != nil { key.problem("bit", "give value or bit, not both") }
                if let value, !(0...255).contains(value) { key.problem("value", "value \(value) must be 0…255 (0x00…0xff)") }
                if let bit, !(0...7).contains(bit) { key.problem("bit", "bit \(bit) must be 0…7") }
                guard let meaning = meaning(key, nil) else { continue }
                profile.reportKeys.append(ReportKey(byte: byte, value: value.map { UInt8(clamping: $0) }, bit: bit,
                                                    meaning: meaning, line: key.document.line(of: key.path)))
            }
        }
        parseFeedback(root, &profile)
    }

    private static func parseFeedback(_ root: TOMLReader, _ profile: inout DeviceProfile) {
        guard let feedback = root.table("feedback") else { return }
        if let via = feedback.string("via") {
            if let path = FeedbackPath(rawValue: via) { profile.feedbackPath = path } else {
                feedback.problem("via", "via '\(via)' must be set-report or interrupt-out")
            }
        }
        profile.feedbackEndpoint = endpoint(feedback, "endpoint", input: false)
        if profile.feedbackPath == .interruptOut && profile.feedbackEndpoint == nil {
            feedback.problem("via", "via = \"interrupt-out\" needs endpoint = 0x02 (the OUT endpoint's address)")
        }
        for key in feedback.keys.sorted() where !["via", "endpoint"].contains(key) {
            guard let text = feedback.string(key) else { continue }
            if let bytes = hexBytes(text), !bytes.isEmpty { profile.feedback[key] = bytes } else {
                feedback.problem(key, "'\(text)' is not hex bytes: write them like \"02 01 00\"")
            }
        }
    }

    private static func parseSerial(_ root: TOMLReader, _ profile: inout DeviceProfile) {
        if let frame = root.table("frame", required: true) {
            profile.inEndpoint = endpoint(frame, "in_endpoint", input: true, required: true)
            profile.outEndpoint = endpoint(frame, "out_endpoint", input: false, required: true)
            for (key, keyPath) in [("start", \DeviceProfile.frameStart), ("end", \DeviceProfile.frameEnd)] {
                guard let text = frame.string(key, required: true) else { continue }
                if let bytes = hexBytes(text), !bytes.isEmpty { profile[keyPath: keyPath] = bytes } else {
                    frame.problem(key, "'\(text)' is not hex bytes: write them like \"02\"")
                }
            }
            if let separator = frame.string("list_separator") { profile.listSeparator = separator }
        }
        let placeholders = ["staffName", "prompt", "levels", "reasons"]
        if let commands = root.table("commands", required: true) {
            for key in commands.keys.sorted() {
                guard let template = commands.string(key) else { continue }
                for name in placeholderNames(template) where !placeholders.contains(name) {
                    commands.problem(key, "unknown placeholder {\(name)}: use \(placeholders.map { "{\($0)}" }.joined(separator: ", "))")
                }
                profile.commands[key] = template
            }
            if profile.commands["thanks"] == nil { commands.problem(nil, "[commands] needs thanks (sent after a rating is committed)") }
        }
        if let responses = root.table("responses", required: true) {
            for key in responses.keys.sorted() {
                guard let pattern = responses.string(key) else { continue }
                if key != "selection" && DeviceAction(rawValue: key) == nil {
                    responses.problem(key, "unknown response '\(key)': use selection, call, pause or signin")
                    continue
                }
                for name in placeholderNames(pattern) where !["level", "reasons"].contains(name) {
                    responses.problem(key, "unknown placeholder {\(name)} in a response: use {level} and {reasons}")
                }
                profile.responses[key] = pattern
            }
            if let selection = profile.responses["selection"], !selection.contains("{level}") {
                responses.problem("selection", "selection must contain {level}")
            } else if profile.responses["selection"] == nil {
                responses.problem(nil, "[responses] needs selection, e.g. \"RATE|{level}|{reasons}\"")
            }
        }
    }

    // MARK: Values

    private static func meaning(_ table: TOMLReader, _ key: String?) -> KeyMeaning? {
        if let key {
            guard let level = table.int(key) else { return nil }
            guard (1...9).contains(level) else { table.problem(key, "level \(level) must be 1…9 (1 is the best level)"); return nil }
            return .level(level)
        }
        let level = table.int("level")
        let action = table.string("action")
        if level != nil && action != nil { table.problem("action", "give level or action, not both"); return nil }
        if let level {
            guard (1...9).contains(level) else { table.problem("level", "level \(level) must be 1…9 (1 is the best level)"); return nil }
            return .level(level)
        }
        if let action {
            guard let parsed = DeviceAction(rawValue: action) else {
                table.problem("action", "action '\(action)' must be one of \(DeviceAction.allCases.map(\.rawValue).joined(separator: ", "))")
                return nil
            }
            return .action(parsed)
        }
        if !table.has("level") && !table.has("action") { table.problem(nil, "a [[key]] needs level = N or action = \"call\"") }
        return nil
    }

    private static func uint16(_ table: TOMLReader, _ key: String) -> UInt16? {
        guard let value = table.int(key, required: true) else { return nil }
        guard (0...0xffff).contains(value) else {
            table.problem(key, "\(key) \(value) must be 0x0000…0xffff")
            return nil
        }
        return UInt16(value)
    }

    private static func endpoint(_ table: TOMLReader, _ key: String, input: Bool, required: Bool = false) -> UInt8? {
        guard let value = table.int(key, required: required) else { return nil }
        guard (0...255).contains(value), value & 0x70 == 0, value & 0x0f != 0 else {
            table.problem(key, "\(key) \(value) is not an endpoint address (0x01…0x0f, IN endpoints 0x81…0x8f)")
            return nil
        }
        if (value & 0x80 != 0) != input {
            table.problem(key, "\(key) 0x\(String(value, radix: 16)) is an \(input ? "OUT" : "IN") endpoint; \(input ? "IN endpoints are 0x81…0x8f" : "OUT endpoints are 0x01…0x0f")")
            return nil
        }
        return UInt8(value)
    }

    /// Hex bytes as profiles write them: "02 01 00", "020100" or "0x02 0x01".
    static func hexBytes(_ text: String) -> [UInt8]? {
        var digits = ""
        for word in text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == ":" }) {
            digits += word.hasPrefix("0x") || word.hasPrefix("0X") ? word.dropFirst(2) : word
        }
        guard digits.count % 2 == 0, digits.allSatisfy(\.isHexDigit) else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }

    static func hexByte(_ text: String) -> UInt8? {
        guard text.hasPrefix("0x") || text.hasPrefix("0X"), text.count > 2, text.count <= 4 else { return nil }
        return UInt8(text.dropFirst(2), radix: 16)
    }

    static func placeholderNames(_ template: String) -> [String] {
        var names: [String] = []
        var rest = template[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            names.append(String(rest[rest.index(after: open)..<close]))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }
}

extension ProfileSet {
    /// Rejects profiles whose levels the scale they name (or the hall's `defaultScale`) does not
    /// have: a key that could never be rated is a broken profile, not a surprise at the window.
    public mutating func checkScales(_ catalog: ScaleCatalog, defaultScale: String) {
        var kept: [DeviceProfile] = []
        for profile in profiles {
            let scaleName = profile.scale ?? defaultScale
            let line = (try? TOMLDocument(contentsOf: profile.file))?.line(of: [profile.scale == nil ? "family" : "scale"])
            guard let scale = try? catalog.scale(named: scaleName) else {
                problems.append(TOMLProblem(file: profile.file, line: line, message:
                    "scale '\(scaleName)' is not a known rating scale (known: \(catalog.scales.keys.sorted().joined(separator: ", ")); see `pingjia scales`)"))
                continue
            }
            let levels = profile.usageKeys.values.compactMap { if case let .level(value) = $0 { value } else { nil } }
                + profile.reportKeys.compactMap { if case let .level(value) = $0.meaning { value } else { nil } }
            let missing = Set(levels.filter { scale.level($0) == nil }).sorted()
            if !missing.isEmpty {
                problems.append(TOMLProblem(file: profile.file, line: line, message:
                    "level \(missing.map(String.init).joined(separator: ", ")) is not on scale '\(scaleName)' (levels 1…\(scale.levels.count))"))
                continue
            }
            kept.append(profile)
        }
        profiles = kept
    }
}

import Foundation

/// One thing a citizen or staff member did on a device, decoded by its profile.
public struct DeviceInput: Sendable, Hashable, Codable {
    /// What was pressed, as the profile names it: `0x1e`, `byte 1 = 0x03`, or the terminal's frame text.
    public var key: String
    public var meaning: KeyMeaning
    /// Reason codes chosen on a terminal.
    public var reasons: [String] = []

    public init(key: String, meaning: KeyMeaning, reasons: [String] = []) {
        self.key = key
        self.meaning = meaning
        self.reasons = reasons
    }
}

/// What a decoder made of one read: inputs, and problems to log (a bad report never stops a device).
public struct Decoded: Sendable, Equatable {
    public var inputs: [DeviceInput] = []
    public var problems: [String] = []
}

/// Turns the bytes a device sends into inputs. Decoders are edge-triggered: a key counts when it
/// goes down, so a report repeated while it is held (or a release report) adds nothing.
public protocol InputDecoder: Sendable {
    mutating func decode(_ bytes: [UInt8]) -> Decoded
    /// Forgets held keys and partial frames (a replugged device starts afresh).
    mutating func reset()
}

public func makeDecoder(for profile: DeviceProfile) -> any InputDecoder {
    switch profile.family {
    case .hidKeyboard: KeyboardDecoder(profile: profile)
    case .hidReport: ReportDecoder(profile: profile)
    case .serialFrame: FrameDecoder(profile: profile)
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined(separator: " ") }

/// Boot-keyboard reports: [modifiers, reserved, key1 … key6].
public struct KeyboardDecoder: InputDecoder {
    let profile: DeviceProfile
    var held: Set<UInt8> = []

    public init(profile: DeviceProfile) { self.profile = profile }

    public mutating func reset() { held = [] }

    public mutating func decode(_ bytes: [UInt8]) -> Decoded {
        var result = Decoded()
        guard bytes.count >= 8 else {
            result.problems.append("short report ignored (\(bytes.count) bytes, a boot keyboard sends 8): \(hex(bytes))")
            return result
        }
        let codes = bytes[2..<8].filter { $0 != 0 }
        // 0x01 in every slot is the keyboard's "too many keys" (ErrorRollOver) report.
        if codes.contains(where: { $0 <= 0x03 }) {
            result.problems.append("rollover or error report ignored: \(hex(bytes))")
            return result
        }
        let now = Set(codes)
        for code in codes where !held.contains(code) {
            if let meaning = profile.usageKeys[code] {
                result.inputs.append(DeviceInput(key: String(format: "0x%02x", code), meaning: meaning))
            } else {
                result.problems.append(String(format: "key 0x%02x is not in profile %@ (ignored)", code, profile.name))
            }
        }
        held = now
        return result
    }
}

/// Vendor HID reports: each `[[key]]` of the profile is a condition on one byte.
public struct ReportDecoder: InputDecoder {
    let profile: DeviceProfile
    var down: Set<Int> = []

    public init(profile: DeviceProfile) { self.profile = profile }

    public mutating func reset() { down = [] }

    public mutating func decode(_ bytes: [UInt8]) -> Decoded {
        var result = Decoded()
        guard bytes.count >= profile.reportLength else {
            result.problems.append("short report ignored (\(bytes.count) bytes, profile \(profile.name) expects \(profile.reportLength)): \(hex(bytes))")
            return result
        }
        if let id = profile.reportId, bytes[0] != id {
            result.problems.append(String(format: "report with id 0x%02x ignored (profile %@ reads report 0x%02x): %@", bytes[0], profile.name, id, hex(bytes)))
            return result
        }
        var now: Set<Int> = []
        for (index, key) in profile.reportKeys.enumerated() where key.isDown(in: bytes) { now.insert(index) }
        for index in now.sorted() where !down.contains(index) {
            let key = profile.reportKeys[index]
            let name = key.bit.map { "byte \(key.byte) bit \($0)" } ?? String(format: "byte %d = 0x%02x", key.byte, key.value ?? 0)
            result.inputs.append(DeviceInput(key: name, meaning: key.meaning))
        }
        if now.isEmpty && bytes.dropFirst(profile.reportId == nil ? 0 : 1).contains(where: { $0 != 0 }) {
            result.problems.append("report matches no key of profile \(profile.name) (ignored): \(hex(bytes))")
        }
        down = now
        return result
    }
}

/// Framed text from a touch terminal: `start` + UTF-8 text + `end`, matched against the
/// profile's response patterns.
public struct FrameDecoder: InputDecoder {
    let profile: DeviceProfile
    var buffer: [UInt8] = []
    static let maximumFrame = 4096

    public init(profile: DeviceProfile) { self.profile = profile }

    public mutating func reset() { buffer = [] }

    public mutating func decode(_ bytes: [UInt8]) -> Decoded {
        var result = Decoded()
        buffer += bytes
        while true {
            guard let start = find(profile.frameStart, in: buffer, from: 0) else {
                if buffer.count > profile.frameStart.count {
                    result.problems.append("bytes outside a frame ignored: \(hex(Array(buffer.prefix(64))))")
                    buffer = Array(buffer.suffix(profile.frameStart.count - 1))
                }
                break
            }
            if start > 0 {
                result.problems.append("bytes before a frame ignored: \(hex(Array(buffer[..<start].prefix(64))))")
                buffer.removeFirst(start)
            }
            guard let end = find(profile.frameEnd, in: buffer, from: profile.frameStart.count) else {
                if buffer.count > Self.maximumFrame {
                    result.problems.append("frame longer than \(Self.maximumFrame) bytes without an end marker ignored")
                    buffer = []
                }
                break
            }
            let body = Array(buffer[profile.frameStart.count..<end])
            buffer.removeFirst(end + profile.frameEnd.count)
            guard let text = String(bytes: body, encoding: .utf8) else {
                result.problems.append("frame is not UTF-8 text (ignored): \(hex(body))")
                continue
            }
            if let input = match(text) { result.inputs.append(input) } else {
                result.problems.append("frame matches no response of profile \(profile.name) (ignored): \(text)")
            }
        }
        return result
    }

    func match(_ text: String) -> DeviceInput? {
        for (name, pattern) in profile.responses.sorted(by: { $0.key < $1.key }) {
            guard let captures = Self.captures(pattern: pattern, text: text) else { continue }
            if name == "selection" {
                guard let levelText = captures["level"], let level = Int(levelText), (1...9).contains(level) else { continue }
                let reasons = (captures["reasons"] ?? "").components(separatedBy: profile.listSeparator)
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                return DeviceInput(key: text, meaning: .level(level), reasons: reasons)
            }
            if let action = DeviceAction(rawValue: name) { return DeviceInput(key: text, meaning: .action(action)) }
        }
        return nil
    }

    /// Matches the whole text against a pattern whose `{name}` placeholders capture anything.
    static func captures(pattern: String, text: String) -> [String: String]? {
        var regex = "^"
        var names: [String] = []
        var rest = pattern[...]
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            regex += NSRegularExpression.escapedPattern(for: String(rest[..<open]))
            names.append(String(rest[rest.index(after: open)..<close]))
            regex += names.last == "level" ? "([0-9]+)" : "(.*?)"
            rest = rest[rest.index(after: close)...]
        }
        regex += NSRegularExpression.escapedPattern(for: String(rest)) + "$"
        guard let expression = try? NSRegularExpression(pattern: regex, options: [.dotMatchesLineSeparators]),
              let found = expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        var result: [String: String] = [:]
        for (index, name) in names.enumerated() {
            if let range = Range(found.range(at: index + 1), in: text) { result[name] = String(text[range]) }
        }
        return result
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        for index in from...(haystack.count - needle.count) where Array(haystack[index..<index + needle.count]) == needle {
            return index
        }
        return nil
    }
}

/// Fills a serial-frame command template. Unknown names were rejected when the profile loaded.
public func renderTemplate(_ template: String, values: [String: String]) -> String {
    var text = template
    for (name, value) in values { text = text.replacingOccurrences(of: "{\(name)}", with: value) }
    for name in ProfileParser.placeholderNames(text) { text = text.replacingOccurrences(of: "{\(name)}", with: "") }
    return text
}

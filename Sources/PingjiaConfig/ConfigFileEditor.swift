import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Edits `pingjia.toml` as text, so the installer's comments and layout survive: `[[keypad]]`
/// tables are removed and appended, nothing else is touched. Every result is parsed before it is
/// written, and written atomically (temp file, fsync, rename, fsync of the directory): a power cut
/// leaves the old file or the new one, never half of each.
public struct ConfigFileEditor: Sendable {
    public let path: String
    public private(set) var text: String

    /// A missing file starts from `KioskConfig.initialText`.
    public init(path: String) throws(ConfigEditError) {
        self.path = path
        if FileManager.default.fileExists(atPath: path) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigEditError("cannot read \(path): check its permissions")
            }
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = KioskConfig.initialText
        }
    }

    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }

    /// One `[[keypad]]` table as found in the text: its lines and the simple string keys in it.
    struct KeypadBlock {
        var lines: Range<Int>
        var values: [String: String]
    }

    /// The `[[keypad]]` tables, each from its header to its last key (comments and blank lines
    /// after it belong to whatever comes next).
    func keypadBlocks() -> [KeypadBlock] {
        let lines = text.components(separatedBy: "\n")
        var blocks: [KeypadBlock] = []
        var index = 0
        while index < lines.count {
            guard lines[index].trimmingCharacters(in: .whitespaces) == "[[keypad]]" else { index += 1; continue }
            let start = index
            var end = index + 1, values: [String: String] = [:]
            var scan = index + 1
            while scan < lines.count, !lines[scan].trimmingCharacters(in: .whitespaces).hasPrefix("[") {
                let line = lines[scan].trimmingCharacters(in: .whitespaces)
                if !line.isEmpty && !line.hasPrefix("#") {
                    end = scan + 1
                    if let (key, value) = Self.simpleString(line) { values[key] = value }
                }
                scan += 1
            }
            blocks.append(KeypadBlock(lines: start..<end, values: values))
            index = scan
        }
        return blocks
    }

    /// `key = "value"` (with an optional trailing comment); nil for anything fancier.
    private static func simpleString(_ line: String) -> (String, String)? {
        guard let equals = line.firstIndex(of: "=") else { return nil }
        let key = line[..<equals].trimmingCharacters(in: .whitespaces)
        var rest = line[line.index(after: equals)...].drop { $0 == " " || $0 == "\t" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return nil }
        rest = rest.dropFirst()
        guard let close = rest.firstIndex(of: quote) else { return nil }
        return (key, String(rest[..<close]))
    }

    /// Removes every `[[keypad]]` whose keys `matches` accepts; returns how many went.
    @discardableResult
    public mutating func removeKeypads(where matches: (_ port: String?, _ serial: String?, _ window: String?, _ staff: String?) -> Bool) -> Int {
        var lines = text.components(separatedBy: "\n")
        let doomed = keypadBlocks().filter { matches($0.values["port"], $0.values["serial"], $0.values["window"], $0.values["staff"]) }
        for block in doomed.reversed() {
            var range = block.lines
            // The blank line that separated it from what came before goes with it.
            if range.lowerBound > 0, lines[range.lowerBound - 1].trimmingCharacters(in: .whitespaces).isEmpty {
                range = (range.lowerBound - 1)..<range.upperBound
            }
            lines.removeSubrange(range)
        }
        text = lines.joined(separator: "\n")
        return doomed.count
    }

    /// Appends a `[[keypad]]` binding the device at `port` (and `serial`) to `window`.
    public mutating func appendKeypad(port: String, serial: String?, window: String, note: String? = nil) {
        var block = "\n[[keypad]]\n"
        if let note { block += "# \(note)\n" }
        block += "port = \(Self.quoted(port))\n"
        if let serial { block += "serial = \(Self.quoted(serial))\n" }
        block += "window = \(Self.quoted(window))\n"
        if !text.hasSuffix("\n") { text += "\n" }
        text += block
    }

    /// A TOML basic string holding `value`.
    public static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f: out += String(format: "\\u%04X", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Checks the new text is a valid config, then replaces the file atomically.
    @discardableResult
    public func save() throws(ConfigEditError) -> KioskConfig {
        let config: KioskConfig
        do {
            config = try KioskConfig.parse(text: text, file: path)
        } catch {
            throw ConfigEditError("the edited config would not be valid, \(path) left as it was: \(error.description)")
        }
        try AtomicFile.write(Data(text.utf8), to: path, mode: 0o640)
        return config
    }
}

public struct ConfigEditError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Write-to-temp, fsync, rename, fsync the directory: the file is either old or new after a crash.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, mode: mode_t) throws(ConfigEditError) {
        let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temp = (directory as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).\(getpid()).tmp")
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw ConfigEditError("cannot write \(temp): \(String(cString: strerror(errno)))") }
        var failure: String?
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno)); return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if let failure {
            unlink(temp)
            throw ConfigEditError("cannot write \(temp): \(failure)")
        }
        guard rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw ConfigEditError("cannot replace \(path): \(reason)")
        }
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}

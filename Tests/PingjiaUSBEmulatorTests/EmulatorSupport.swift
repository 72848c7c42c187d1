import Foundation
import Testing

/// A helper failed; the description is what the test log shows.
struct EmulatorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let repoRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The built binaries: this target depends on `pingjia` and `pingjiad`, so they sit next to the
/// test bundle.
func binary(_ name: String) throws -> String {
    var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    while dir.path != "/" {
        let candidate = dir.appendingPathComponent(name).path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
           FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        dir.deleteLastPathComponent()
    }
    throw EmulatorError("no built `\(name)` next to the test bundle: build with `swift build --build-tests` first")
}

/// umockdev and Python's GObject bindings; missing ones fail the test with how to get them.
func emulatorTools() throws -> (wrapper: String, python: String) {
    let wrapper = "/usr/bin/umockdev-wrapper", python = "/usr/bin/python3"
    guard FileManager.default.isExecutableFile(atPath: wrapper) else {
        throw EmulatorError("umockdev-wrapper not found: run `make deps` (Debian package umockdev)")
    }
    let check = Process()
    check.executableURL = URL(fileURLWithPath: python)
    check.arguments = ["-c", "import gi; gi.require_version('UMockdev', '1.0'); from gi.repository import UMockdev"]
    check.standardError = FileHandle.nullDevice
    try check.run()
    check.waitUntilExit()
    guard check.terminationStatus == 0 else {
        throw EmulatorError("Python cannot load UMockdev: run `make deps` (Debian packages python3-gi, gir1.2-umockdev-1.0)")
    }
    guard FileManager.default.fileExists(atPath: "/usr/lib/x86_64-linux-gnu/libumockdev-preload.so.0")
            || FileManager.default.fileExists(atPath: "/usr/lib/libumockdev-preload.so.0") else {
        throw EmulatorError("libumockdev-preload.so.0 not found: run `make deps` (Debian package libumockdev0)")
    }
    return (wrapper, python)
}

/// Lines of a child's output, collected as they come, for tests to wait on.
final class Lines: @unchecked Sendable {
    private let condition = NSCondition()
    private var lines: [String] = []
    private var closed = false

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            var pending = Data()
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending += chunk
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[pending.index(after: newline)...])
                    condition.lock()
                    lines.append(line)
                    condition.broadcast()
                    condition.unlock()
                }
            }
            condition.lock()
            closed = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    var all: [String] { condition.lock(); defer { condition.unlock() }; return lines }

    /// The lines parsed as JSON objects (others skipped).
    var objects: [[String: Any]] {
        all.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func objects(_ event: String, _ extra: [String: String] = [:]) -> [[String: Any]] {
        objects.filter { object in
            object["event"] as? String == event && extra.allSatisfy { key, value in "\(object[key] ?? "")" == value }
        }
    }

    /// Waits until at least `count` objects with `event` (and `extra` fields) were printed.
    @discardableResult
    func wait(for event: String, _ extra: [String: String] = [:], count: Int = 1, timeout: TimeInterval = 15) throws -> [[String: Any]] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let found = objects(event, extra)
            if found.count >= count { return found }
            condition.lock()
            if closed {
                condition.unlock()
                throw EmulatorError("output ended before \(count)× \(event) \(extra); got:\n\(all.joined(separator: "\n"))")
            }
            let timedOut = !condition.wait(until: min(deadline, Date().addingTimeInterval(0.2))) && Date() >= deadline
            condition.unlock()
            if timedOut {
                throw EmulatorError("no \(count)× \(event) \(extra) within \(Int(timeout)) s; got:\n\(all.joined(separator: "\n"))")
            }
        }
    }
}

/// A device spec for Tests/Emulator/usb_emulator.py.
struct EmulatedDevice {
    var name: String
    var kind: String         // hid-keyboard | hid-vendor | bulk
    var vid: Int
    var pid: Int
    var port: String
    var inSize = 8
    var serial: String? = nil

    var json: [String: Any] {
        var object: [String: Any] = ["name": name, "kind": kind, "vid": vid, "pid": pid, "port": port, "in_size": inSize]
        if let serial { object["serial"] = serial }
        return object
    }

    static func pj5(_ name: String = "pj5", port: String = "1") -> EmulatedDevice {
        EmulatedDevice(name: name, kind: "hid-keyboard", vid: 0x1a2b, pid: 0x0005, port: port)
    }
    static func pj3r(_ name: String = "pj3r", port: String = "2") -> EmulatedDevice {
        EmulatedDevice(name: name, kind: "hid-vendor", vid: 0x1a2b, pid: 0x0103, port: port, inSize: 4)
    }
    static func pt10(_ name: String = "pt10", port: String = "3") -> EmulatedDevice {
        EmulatedDevice(name: name, kind: "bulk", vid: 0x1a2b, pid: 0x0a10, port: port, inSize: 64)
    }
}

/// The emulator process (under umockdev-wrapper) and its testbed; one per test, each with its
/// own testbed directory, so nothing is shared with any other test process.
final class Emulator: @unchecked Sendable {
    let process = Process()
    let events: Lines
    let stderr: Lines
    private let input: FileHandle
    let umockdevDir: String
    let scratch: URL

    init(_ devices: [EmulatedDevice]) throws {
        let tools = try emulatorTools()
        // Short: umockdev puts the device nodes' Unix sockets in here, and a socket path must fit
        // in 108 bytes.
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pjusb-" + UUID().uuidString.prefix(8).lowercased())
        guard scratch.path.count <= 48 else {
            throw EmulatorError("the temporary directory \(scratch.path) is too long for umockdev's device sockets: run with a short TMPDIR")
        }
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let specs = try JSONSerialization.data(withJSONObject: devices.map(\.json))
        process.executableURL = URL(fileURLWithPath: tools.wrapper)
        process.arguments = [tools.python, repoRoot.appendingPathComponent("Tests/Emulator/usb_emulator.py").path,
                             String(decoding: specs, as: UTF8.self)]
        var env = ProcessInfo.processInfo.environment
        env["TMPDIR"] = scratch.path
        process.environment = env
        let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
        process.standardInput = inPipe
        process.standardOutput = outPipe
        process.standardError = errPipe
        input = inPipe.fileHandleForWriting
        events = Lines(outPipe.fileHandleForReading)
        stderr = Lines(errPipe.fileHandleForReading)
        try process.run()
        let ready = try events.wait(for: "ready", timeout: 30)
        guard let dir = ready.first?["umockdev_dir"] as? String else { throw EmulatorError("emulator gave no testbed directory") }
        umockdevDir = dir
    }

    func send(_ command: String) {
        input.write(Data((command + "\n").utf8))
    }

    /// A key press: the report, then (for keyboards) the all-keys-up report, as a real keypad sends.
    func press(_ device: String, _ hex: String, release: String? = nil) {
        send("report \(device) \(hex)")
        if let release { send("report \(device) \(release)") }
    }

    func stop() {
        send("quit")
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Starts `program` (a built binary) with real libusb looking at the emulated devices.
    func launch(_ program: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Child {
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = "libumockdev-preload.so.0"
        // The testbed exports UMOCKDEV_DIR only inside the emulator; hand it over explicitly.
        env["UMOCKDEV_DIR"] = umockdevDir
        env["PINGJIA_DATA_DIR"] = repoRoot.path + "/"
        env["PINGJIA_STATE_DIR"] = nil
        env["PINGJIA_CONFIG"] = nil
        for (key, value) in extra { env[key] = value }
        return try Child(binary(program), arguments, environment: env, directory: scratch)
    }
}

/// A binary under test, running under the umockdev preload.
final class Child: @unchecked Sendable {
    let process = Process()
    let out: Lines
    let err: Lines

    init(_ executable: String, _ arguments: [String], environment: [String: String], directory: URL) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.currentDirectoryURL = directory
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        out = Lines(outPipe.fileHandleForReading)
        err = Lines(errPipe.fileHandleForReading)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// Open file descriptors of the child, counted in /proc/<pid>/fd.
    var openDescriptors: Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// utime + stime of the child in clock ticks, from /proc/<pid>/stat.
    var cpuTicks: Int {
        get throws {
            let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
            // Fields after the command name (which may contain spaces) start at ") ".
            guard let close = stat.lastIndex(of: ")") else { throw EmulatorError("unreadable /proc/\(pid)/stat") }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state); utime is field 14, stime field 15.
            guard fields.count > 13, let utime = Int(fields[11]), let stime = Int(fields[12]) else {
                throw EmulatorError("unreadable /proc/\(pid)/stat: \(stat)")
            }
            return utime + stime
        }
    }

    /// Waits for the child to exit by itself; nil if it is still running after `timeout`.
    func exitStatus(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        guard !process.isRunning else { return nil }
        process.waitUntilExit()
        // The reader threads may still be draining the pipes.
        usleep(100_000)
        return process.terminationStatus
    }

    /// SIGTERM, then the exit status (killed after `timeout`).
    @discardableResult
    func terminate(timeout: TimeInterval = 10) -> Int32 {
        if process.isRunning { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Runs one emulator for `body`, stopping it (and reporting its stderr on failure) afterwards.
func withEmulator<T>(_ devices: [EmulatedDevice], _ body: (Emulator) throws -> T) throws -> T {
    let emulator = try Emulator(devices)
    defer { emulator.stop() }
    do {
        let result = try body(emulator)
        let errors = emulator.events.objects("error")
        #expect(errors.isEmpty, "the emulator reported errors: \(errors)")
        return result
    } catch {
        throw EmulatorError("\(error)\n--- emulator events\n\(emulator.events.all.joined(separator: "\n"))\n--- emulator stderr\n\(emulator.stderr.all.joined(separator: "\n"))")
    }
}

func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("PingjiaUSBEmulatorTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

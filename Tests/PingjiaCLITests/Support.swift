import Foundation
import Testing

/// A helper failed; the description is what the test log shows.
struct SupportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The checkout, found from this file, so the shipped `scales/` and `demo/` are used whatever the
/// current directory of the test run.
let repoRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The directory SwiftPM built the test bundle into; the test target depends on `pingjia` and
/// `pingjiad`, so they are built there too.
let binDirectory: Result<URL, SupportError> = {
    let starts = ["/proc/self/exe", CommandLine.arguments.first ?? "", Bundle.main.executablePath ?? ""]
    for start in starts where !start.isEmpty {
        var dir = URL(fileURLWithPath: start).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !dir.path.isEmpty {
            let candidate = dir.appendingPathComponent("pingjia").path
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate) {
                return .success(dir)
            }
            dir.deleteLastPathComponent()
        }
    }
    return .failure(SupportError("no built `pingjia` next to the test bundle (looked up from \(starts)): "
                                 + "build with `swift build --build-tests` first"))
}()

func binary(_ name: String) throws -> String {
    let path = try binDirectory.get().appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw SupportError("\(path) is missing: build with `swift build --build-tests` first")
    }
    return path
}

/// Finds an external tool on PATH; a missing one fails the test with how to install it.
func tool(_ name: String) throws -> String {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    throw SupportError("\(name) not found on PATH: run `make deps` and run the tests again")
}

/// A fresh directory of its own (tests run in parallel), removed after `body`.
func withTempDir<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("PingjiaCLITests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// What a finished process left.
struct Run: CustomStringConvertible {
    let status: Int32
    let stdout: String
    let stderr: String
    let stdoutBytes: Data

    var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

/// The environment the binaries see: the checkout's data files, and no state or config from the
/// developer's shell that could point them elsewhere.
func environment() -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    env["PINGJIA_DATA_DIR"] = repoRoot.path + "/"
    env["PINGJIA_STATE_DIR"] = nil
    env["PINGJIA_CONFIG"] = nil
    return env
}

/// Starts `executable` with pipes for both streams; the caller reads or waits.
func start(_ executable: String, _ arguments: [String], in dir: URL,
           environment extra: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment().merging(extra) { _, new in new }
    process.currentDirectoryURL = dir
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return (process, out, err)
}

/// Runs a program to completion; both pipes are drained at once so neither can fill up and
/// block it. A run longer than `timeout` is killed and fails.
func run(_ executable: String, _ arguments: [String], in dir: URL, timeout: TimeInterval = 60) throws -> Run {
    let (process, out, err) = try start(executable, arguments, in: dir)
    let stdout = Locked(Data()), stderr = Locked(Data())
    let group = DispatchGroup()
    for (pipe, sink) in [(out, stdout), (err, stderr)] {
        group.enter()
        DispatchQueue.global().async {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            sink.mutate { $0 = data }
            group.leave()
        }
    }
    if group.wait(timeout: .now() + timeout) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        throw SupportError("\(executable) \(arguments) did not finish within \(Int(timeout)) s")
    }
    process.waitUntilExit()
    let bytes = stdout.value
    return Run(status: process.terminationStatus, stdout: String(decoding: bytes, as: UTF8.self),
               stderr: String(decoding: stderr.value, as: UTF8.self), stdoutBytes: bytes)
}

/// Runs `pingjia` against the state directory `state`, from the nearest existing directory
/// above it (the state directory itself may not exist yet).
func pingjia(_ arguments: [String], state: URL) throws -> Run {
    var cwd = state.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: cwd.path) { cwd.deleteLastPathComponent() }
    return try run(binary("pingjia"), arguments + ["--state-dir", state.path], in: cwd)
}

/// `pingjia init` on a new state directory `<dir>/state`, optionally with the demo roster.
func initialisedState(in dir: URL, roster: Bool = false) throws -> URL {
    let state = dir.appendingPathComponent("state", isDirectory: true)
    let initRun = try pingjia(["init"], state: state)
    guard initRun.status == 0 else { throw SupportError("pingjia init failed: \(initRun)") }
    if roster {
        let imported = try pingjia(["roster", "import", repoRoot.appendingPathComponent("demo/roster.csv").path], state: state)
        guard imported.status == 0 else { throw SupportError("pingjia roster import failed: \(imported)") }
    }
    return state
}

func deviceId(of state: URL) throws -> String {
    try String(contentsOf: state.appendingPathComponent("device-id"), encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Runs SQL with the `sqlite3` CLI, as someone working on the file outside the kiosk would.
@discardableResult
func sqlite3(_ db: URL, _ sql: String) throws -> String {
    let result = try run(tool("sqlite3"), ["-batch", "-bail", db.path, sql], in: db.deletingLastPathComponent())
    guard result.status == 0 else { throw SupportError("sqlite3 \(db.path) failed: \(result)") }
    return result.stdout
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

/// A running program (pingjiad, pingjia-hub) whose output is collected as it comes.
final class RunningProcess {
    let process: Process
    private let stderr = Locked(Data())
    private let drained = DispatchGroup()

    init(_ executable: String, _ arguments: [String], in dir: URL, environment: [String: String] = [:]) throws {
        let (process, out, err) = try start(executable, arguments, in: dir, environment: environment)
        self.process = process
        for (pipe, sink) in [(out, Locked(Data())), (err, stderr)] {
            drained.enter()
            DispatchQueue.global().async { [drained] in
                while true {
                    let chunk = pipe.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    sink.mutate { $0.append(chunk) }
                }
                drained.leave()
            }
        }
    }

    var log: String { String(decoding: stderr.value, as: UTF8.self) }

    /// Waits until `line` appears in the log or the process ends; false after `timeout`.
    func waitFor(_ text: String, timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if log.contains(text) { return true }
            if !process.isRunning { return log.contains(text) }
            // Short: the signal tests send their signal as soon after "ready" as they can.
            Thread.sleep(forTimeInterval: 0.002)
        }
        return false
    }

    /// Waits for the exit: the exit status, minus the signal number when a signal killed it,
    /// or nil (after SIGKILL) when it did not come within `timeout`.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        process.waitUntilExit()
        _ = drained.wait(timeout: .now() + 5)
        return process.terminationReason == .exit ? process.terminationStatus : -process.terminationStatus
    }

    /// Sends `signal` and waits for the exit.
    func stop(_ signal: Int32 = SIGTERM) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A hall as an installer leaves it: a hub serving its phone page (`SyncCLITests.startHub`, with
/// `--public-url`) and a kiosk set up against it by `pingjia setup` with `roster`, so the kiosk's
/// QR links open the hub's phone page.
struct SetUpHall {
    let hub: RunningProcess
    let hubURL: String
    let hubDB: URL
    let state: URL

    init(in dir: URL, roster: URL, windows: String, hall: String = "演示大厅") throws {
        hubDB = dir.appendingPathComponent("hub/hub.db")
        try FileManager.default.createDirectory(at: hubDB.deletingLastPathComponent(), withIntermediateDirectories: true)
        (hub, hubURL) = try SyncCLITests.startHub(db: hubDB, in: dir)
        let add = try SyncCLITests.hubCLI(["devices", "add", "--hall", hall, "--name", "1号评价器"], db: hubDB, in: dir)
        guard add.status == 0 else { throw SupportError("pingjia-hub devices add failed: \(add)") }
        state = dir.appendingPathComponent("state", isDirectory: true)
        let setup = try pingjia(["setup", "--non-interactive", "--hall", hall, "--name", "1号评价器", "--windows", windows,
                                 "--hub", hubURL, "--code", add.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                                 "--roster", roster.path], state: state)
        guard setup.status == 0 else { throw SupportError("pingjia setup failed: \(setup)\n--- hub\n\(hub.log)") }
    }
}

/// Every QR code zbar finds in an image. With -Sbinary the codes' bytes come out back to back,
/// so the URLs are split where the next one starts.
func decodeAllQRCodes(_ image: URL, in dir: URL) throws -> [String] {
    let result = try run(tool("zbarimg"), ["--raw", "-q", "--nodbus", "-Sbinary", image.path], in: dir)
    guard result.status == 0 else { throw SupportError("zbarimg found no QR code on \(image.lastPathComponent): \(result)") }
    return result.stdout.components(separatedBy: "http").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .filter { !$0.isEmpty }.map { "http" + $0 }
}

/// A PDF rasterised as a printer does, without anti-aliasing (on anti-aliased full pages zbar's
/// multi-symbol scan misses a code now and then, while each decodes alone): the page images.
func renderPDF(_ pdf: URL, dpi: Int, in dir: URL) throws -> [URL] {
    let prefix = dir.appendingPathComponent("page-\(dpi)")
    let rendered = try run(tool("pdftoppm"), ["-r", "\(dpi)", "-png", "-aa", "no", "-aaVector", "no", pdf.path, prefix.path], in: dir)
    guard rendered.status == 0 else { throw SupportError("pdftoppm failed: \(rendered)") }
    return try FileManager.default.contentsOfDirectory(atPath: dir.path)
        .filter { $0.hasPrefix("page-\(dpi)") && $0.hasSuffix(".png") }.sorted().map { dir.appendingPathComponent($0) }
}

/// A roster of `count` people, `perWindow` to a window, with Chinese names as a hall has them.
func generatedRoster(_ count: Int, perWindow: Int, in dir: URL) throws -> URL {
    let surnames = ["张", "李", "王", "赵", "陈", "刘"]
    var csv = "工号,姓名,窗口\n"
    for index in 1...count {
        csv += "S\(String(format: "%03d", index)),\(surnames[index % surnames.count])测试\(index),\((index - 1) / perWindow + 1)\n"
    }
    let file = dir.appendingPathComponent("staff.csv")
    try Data(csv.utf8).write(to: file)
    return file
}

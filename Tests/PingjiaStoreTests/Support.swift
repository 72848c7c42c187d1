import Foundation
import GRDB
import Logging
import PingjiaCore
import PingjiaStore
import Testing

/// A helper failed; the description is what the test log shows.
struct SupportError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A fresh directory of its own under the system temp dir (tests run in parallel), removed
/// after `body` whatever happens.
func withTempDir<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("PingjiaStoreTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

let deviceA = "pj-0123456789ab"
let deviceB = "pj-ba9876543210"

func storePath(_ dir: URL) -> String { dir.appendingPathComponent("pingjia.db").path }

/// A rating with every field set, Chinese in the comment and reasons in a non-sorted order, so a
/// round trip that dropped or reordered anything shows up.
func fullRating(_ n: Int = 0) -> NewRating {
    NewRating(staffId: "A1023", windowId: "3", matterCode: "11000000000000000X4440111700001",
              caseNo: "BJ-2026-\(n)", channel: .keypad, scale: "five", level: 4,
              code: SatisfactionCode(rawValue: 4)!, reasons: ["slow", "attitude"],
              comment: "等了很久，第\(n)次", ratedAt: "2026-11-24T10:44:00.123+08:00",
              monotonicNs: 123_456_789_012 + UInt64(n), flags: [.test, .repeat])
}

/// A rating with every optional field absent (a window-only rating, no reasons, no flags).
func minimalRating(_ n: Int = 0) -> NewRating {
    NewRating(staffId: nil, windowId: "5", channel: .touch, scale: "three", level: 1,
              code: SatisfactionCode(rawValue: 1)!, ratedAt: "2026-11-24T10:45:00.000+08:00",
              monotonicNs: UInt64(n))
}

/// Checks seqs are 1…n without gaps and each record points at the one before.
func expectGaplessChain(_ records: [RatingRecord], count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(records.map(\.seq) == (0..<UInt64(count)).map { $0 + 1 }, "seqs are not 1…\(count)", sourceLocation: sourceLocation)
    var previous = ChainHash.genesis
    for record in records {
        #expect(record.prevHash == previous, "prevHash of seq \(record.seq) is not the hash of the record before",
                sourceLocation: sourceLocation)
        #expect(record.hashMatchesContent, "hash of seq \(record.seq) does not cover its fields", sourceLocation: sourceLocation)
        previous = record.hash
    }
}

/// Finds `name` on PATH; a missing tool is a failure telling how to install it, never a skip.
func tool(_ name: String) throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw SupportError("\(name) not found on PATH: run `make deps` and run the tests again")
}

/// Runs SQL with the `sqlite3` CLI, as someone tampering with the file outside the kiosk would.
@discardableResult
func sqlite3(_ db: String, _ sql: String) throws -> String {
    let process = Process()
    process.executableURL = try tool("sqlite3")
    process.arguments = ["-batch", "-bail", db, sql]
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Small outputs only: reading stdout first cannot deadlock on a few lines of stderr.
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw SupportError("sqlite3 \(db) failed (exit \(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self))")
    }
    return String(decoding: stdout, as: UTF8.self)
}

/// Copies a store (and its WAL, where the latest pages may live) to `to`.
func copyStore(from source: String, to target: String) throws {
    try FileManager.default.copyItem(atPath: source, toPath: target)
    if FileManager.default.fileExists(atPath: source + "-wal") {
        try FileManager.default.copyItem(atPath: source + "-wal", toPath: target + "-wal")
    }
}

/// Files in `dir` whose names start with `prefix`.
func files(in dir: URL, startingWith prefix: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(prefix) }.sorted()
}

/// A log handler that keeps what it is given, so a test can check an alarm was raised.
final class LogRecorder: @unchecked Sendable {
    struct Entry {
        let level: Logger.Level
        let message: String
        let metadata: Logger.Metadata
    }

    private let lock = NSLock()
    private var stored: [Entry] = []

    var entries: [Entry] { lock.withLock { stored } }

    func append(_ entry: Entry) { lock.withLock { stored.append(entry) } }

    var logger: Logger {
        Logger(label: "pingjia.store.test") { _ in RecordingHandler(recorder: self) }
    }
}

struct RecordingHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    func log(event: LogEvent) {
        recorder.append(.init(level: event.level, message: event.message.description,
                              metadata: metadata.merging(event.metadata ?? [:]) { $1 }))
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

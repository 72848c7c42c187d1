import Foundation
import PingjiaTOML
import Testing

/// The package root, found from this file so the tests need no `resources:` and no working directory.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A fresh directory per test (they run in parallel), removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("PingjiaConfigTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

func write(_ text: String, to url: URL) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
}

/// Every problem `body` throws, or none.
func problems(_ body: () throws -> Void) -> [TOMLProblem] {
    do {
        try body()
        return []
    } catch let error as TOMLProblems {
        return error.problems
    } catch {
        Issue.record("expected TOMLProblems, got \(error)")
        return []
    }
}

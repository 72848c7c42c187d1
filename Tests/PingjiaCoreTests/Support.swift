import Foundation
import PingjiaTOML
import Testing

/// The package root, found from this file so the tests need no `resources:` and no working directory.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Every problem `body` throws, or none; lets a test assert on all of them at once.
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

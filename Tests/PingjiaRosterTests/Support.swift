import Foundation
import Testing
@testable import PingjiaRoster

/// `Tests/Fixtures/roster`, found from this file (test targets have no `resources:`).
let rosterFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/roster")

func fixture(_ name: String) throws -> Data {
    try Data(contentsOf: rosterFixtures.appendingPathComponent(name))
}

struct UnexpectedSuccess: Error, CustomStringConvertible {
    let roster: RosterFile
    var description: String { "expected problems, got a roster of \(roster.staff.count) staff" }
}

/// The roster of a file that must be accepted; a rejection fails the test with its problems.
func accepted(_ data: Data, file: String = "roster.csv") throws -> RosterFile {
    try RosterCSV.parse(data: data, file: file).get()
}

func accepted(_ text: String, file: String = "roster.csv") throws -> RosterFile {
    try accepted(Data(text.utf8), file: file)
}

/// Every problem of a file that must be rejected, as the `file:line: message` lines a user sees.
func rejected(_ data: Data, file: String = "roster.csv") throws -> [String] {
    switch RosterCSV.parse(data: data, file: file) {
    case let .success(roster): throw UnexpectedSuccess(roster: roster)
    case let .failure(problems):
        #expect(problems.description == problems.problems.map(\.description).joined(separator: "\n"))
        return problems.problems.map(\.description)
    }
}

func rejected(_ text: String, file: String = "roster.csv") throws -> [String] {
    try rejected(Data(text.utf8), file: file)
}

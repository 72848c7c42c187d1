import Foundation
import PingjiaCore
import PingjiaTOML
import Testing

/// Inputs the fuzzers (scripts/fuzz.sh) once crashed on, replayed on every test run. Each must be
/// refused with a problem that names its line, not crash the process.
@Suite struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/regressions")

    static var scaleInputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix("scale-") }.sorted()
    }

    @Test func thereAreRegressionInputs() {
        #expect(!Self.scaleInputs.isEmpty, "no files in \(Self.directory.path)")
    }

    @Test(arguments: scaleInputs)
    func scaleInputIsRefusedWithALine(_ name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        let text = String(decoding: data, as: UTF8.self)
        do {
            _ = try Scale.parse(text: text, file: name, expectedName: "fuzz")
            Issue.record("\(name) was accepted as a scale")
        } catch {
            #expect(error.problems.first?.line != nil, "\(error)")
            #expect(error.description.hasPrefix("\(name):"), "\(error)")
        }
    }

    /// The header check must not refuse valid TOML whose lines merely start with '[' inside a
    /// multi-line array.
    @Test func nestedArraysOnTheirOwnLinesAreNotHeaders() throws {
        let document = try TOMLDocument(text: "a = [\n  [ {b = 1} ],\n  [\"x\"],\n]\n", file: "t.toml")
        _ = document.root.table("a")
        #expect(document.line(of: ["a"]) == 1)
    }
}

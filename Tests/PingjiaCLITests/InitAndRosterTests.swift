import Foundation
import Testing

@Suite struct InitTests {
    @Test func initCreatesTheStateAndIsSafeToRunAgain() throws {
        try withTempDir { dir in
            let state = dir.appendingPathComponent("var/lib/pingjia", isDirectory: true)
            let first = try pingjia(["init"], state: state)
            #expect(first.status == 0, "\(first)")
            for name in ["pingjia.toml", "device-id", "pingjia.db"] {
                #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent(name).path), "\(name) missing after init")
            }
            let id = try deviceId(of: state)
            #expect(id.wholeMatch(of: /pj-[0-9a-f]{12}/) != nil, "device id '\(id)'")
            #expect(first.stdout.contains(id) && first.stdout.contains("(created)"), "\(first)")
            let config = try Data(contentsOf: state.appendingPathComponent("pingjia.toml"))

            let second = try pingjia(["init"], state: state)
            #expect(second.status == 0, "\(second)")
            #expect(second.stdout.contains("(kept)"), "\(second)")
            #expect(try deviceId(of: state) == id)
            #expect(try Data(contentsOf: state.appendingPathComponent("pingjia.toml")) == config)
        }
    }
}

@Suite struct RosterCLITests {
    struct Listing: Decodable {
        struct Person: Decodable { let id: String; let name: String; let windowId: String }
        struct Window: Decodable { let id: String; let name: String }
        let staff: [Person]
        let windows: [Window]
    }

    @Test func importAndListTheDemoRoster() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            let imported = try pingjia(["roster", "import", repoRoot.appendingPathComponent("demo/roster.csv").path], state: state)
            #expect(imported.status == 0, "\(imported)")
            #expect(imported.stdout.contains("3 added"), "\(imported)")

            let listed = try pingjia(["roster", "list", "--json"], state: state)
            #expect(listed.status == 0, "\(listed)")
            let listing = try JSONDecoder().decode(Listing.self, from: listed.stdoutBytes)
            #expect(listing.staff.map(\.id) == ["A1023", "A1024", "B2001"])
            #expect(listing.staff.map(\.name) == ["张三", "李四", "王五"])
            #expect(listing.staff.map(\.windowId) == ["3", "4", "5"])
            #expect(listing.windows.map(\.id) == ["3", "4", "5"])
        }
    }

    /// Each bad file is refused as a whole with `file:line: reason`, and the roster stays as it was.
    @Test(arguments: [
        ("missing-column.csv", "工号,姓名\nA1,张三\n", 1, "missing column"),
        ("duplicate.csv", "工号,姓名,窗口\nA1,张三,1\nA1,李四,2\n", 3, "duplicate 工号"),
        ("bad-utf8.csv", "工号,姓名,窗口\nA1,张三,1\nA2,\u{FFFF}BAD,2\n", 3, "UTF-8"),
    ])
    func badCSVIsRefusedWithFileAndLine(name: String, text: String, line: Int, reason: String) throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let before = try pingjia(["roster", "list", "--json"], state: state)
            #expect(before.status == 0, "\(before)")

            var bytes = Data(text.utf8)
            if name == "bad-utf8.csv" {
                // A lone 0xFF byte (never valid UTF-8) where the placeholder character stands.
                let placeholder = Data("\u{FFFF}".utf8)
                let range = try #require(bytes.range(of: placeholder))
                bytes.replaceSubrange(range, with: [0xFF])
                #expect(String(data: bytes, encoding: .utf8) == nil)
            }
            let file = dir.appendingPathComponent(name)
            try bytes.write(to: file)

            let result = try pingjia(["roster", "import", file.path], state: state)
            #expect(result.status != 0, "\(result)")
            let first = try #require(result.stderrLines.first, "no message on stderr: \(result)")
            #expect(first.hasPrefix("pingjia: \(file.path):\(line): "), "\(result)")
            #expect(first.contains(reason), "\(result)")
            #expect(!result.stdout.contains("imported"), "\(result)")

            let after = try pingjia(["roster", "list", "--json"], state: state)
            #expect(after.stdoutBytes == before.stdoutBytes, "the roster changed after a refused import")
        }
    }
}

@Suite struct RosterDiffCLITests {
    @Test func theChangeIsShownBeforeItIsAppliedAndDryRunAppliesNothing() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let file = dir.appendingPathComponent("next.csv")
            try Data("工号,姓名,窗口\nA1023,张三,3\nA1024,李四,6\nC3001,赵六,7\n".utf8).write(to: file)
            let dry = try pingjia(["roster", "import", file.path, "--replace", "--dry-run"], state: state)
            #expect(dry.status == 0, "\(dry)")
            #expect(dry.stdout.contains("+ C3001 赵六, window 7\n") && dry.stdout.contains("~ A1024 李四: window 4 → 6")
                    && dry.stdout.contains("- B2001 王五, window 5\n") && dry.stdout.contains("dry run: nothing applied"), "\(dry)")
            let unchanged = try pingjia(["roster", "list"], state: state)
            #expect(unchanged.stdout.contains("B2001") && !unchanged.stdout.contains("C3001"), "\(unchanged)")
            let applied = try pingjia(["roster", "import", file.path, "--replace"], state: state)
            #expect(applied.status == 0 && applied.stdout.contains("+ C3001") && applied.stdout.contains("1 added, 2 updated, 1 removed"), "\(applied)")
        }
    }
}

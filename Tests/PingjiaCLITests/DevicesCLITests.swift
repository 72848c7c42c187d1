import Foundation
import Testing

struct DevicesCLITests {
    @Test func validateAcceptsTheShippedProfiles() throws {
        try withTempDir { dir in
            let result = try run(binary("pingjia"), ["devices", "validate", "--state-dir", dir.path + "/state"], in: dir)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("acme-pj5.toml") && result.stdout.contains("acme-pj3r.toml") && result.stdout.contains("acme-pt10.toml"))
        }
    }

    /// Acceptance 4: every kind of bad profile is reported as file:line: reason, exit status 1.
    @Test func validateRejectsEachKindOfBadProfileWithFileAndLine() throws {
        let base = """
            vendor = "T"
            model = "K"
            family = "hid-keyboard"

            [match]
            vid = 0x1111
            pid = 0x0001
            interface = 0

            [keys]
            0x1e = 1
            """
        let bad: [String: (String, String)] = [
            "unknown-key.toml": (base.replacingOccurrences(of: "model = \"K\"", with: "model = \"K\"\ncolour = \"red\""), ":3: unknown key 'colour'"),
            "wrong-type.toml": (base.replacingOccurrences(of: "interface = 0", with: "interface = \"0\""), ":8: 'interface' must be an integer"),
            "bad-hex.toml": (base + "\n[feedback]\nthanks = \"xyz\"\n", ":13: 'xyz' is not hex bytes"),
            "duplicate.toml": (base.replacingOccurrences(of: "0x1e = 1", with: "0x1e = 2"), ":5: same [match]"),
            "bad-level.toml": (base.replacingOccurrences(of: "0x0001", with: "0x0009").replacingOccurrences(of: "0x1e = 1", with: "0x1e = 6"), ":3: level 6 is not on scale 'five'"),
        ]
        try withTempDir { dir in
            let profiles = dir.appendingPathComponent("profiles")
            try FileManager.default.createDirectory(at: profiles, withIntermediateDirectories: true)
            try base.write(to: profiles.appendingPathComponent("a-good.toml"), atomically: true, encoding: .utf8)
            for (name, (text, _)) in bad {
                try text.write(to: profiles.appendingPathComponent(name), atomically: true, encoding: .utf8)
            }
            let result = try run(binary("pingjia"), ["devices", "validate", profiles.path, "--state-dir", dir.path + "/state"], in: dir)
            #expect(result.status == 1)
            #expect(result.stdout.contains("a-good.toml"), "the good profile is still checked and loads: \(result)")
            for (name, (_, expected)) in bad {
                #expect(result.stderrLines.contains { $0.hasPrefix("pingjia: " + profiles.appendingPathComponent(name).path + expected) },
                        "\(name): \(result.stderr)")
            }
        }
    }

    /// Acceptance 5: the committed udev rules are exactly what the profiles generate.
    @Test func committedUdevRulesEqualTheGeneratedOnes() throws {
        try withTempDir { dir in
            let result = try run(binary("pingjia"), ["devices", "udev-rules"], in: dir)
            #expect(result.status == 0, "\(result)")
            let committed = try String(contentsOf: repoRoot.appendingPathComponent("systemd/70-pingjia.rules"), encoding: .utf8)
            #expect(result.stdout == committed,
                    "systemd/70-pingjia.rules is stale: regenerate it with `pingjia devices udev-rules > systemd/70-pingjia.rules`")
            #expect(committed.contains("ATTR{idVendor}==\"1a2b\", ATTR{idProduct}==\"0a10\""))
        }
    }
}

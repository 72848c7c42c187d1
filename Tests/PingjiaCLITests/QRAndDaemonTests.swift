import Foundation
import Testing

@Suite struct QRCLITests {
    /// Decodes the one QR code in an image with zbar; `-Sbinary` prints the exact encoded bytes.
    private func decode(_ image: URL, in dir: URL) throws -> String {
        let result = try run(tool("zbarimg"), ["--raw", "-q", "--nodbus", "-Sbinary", image.path], in: dir)
        guard result.status == 0 else { throw SupportError("zbarimg could not decode \(image.lastPathComponent): \(result)") }
        return result.stdout
    }

    @Test func textToPNGDecodesToTheSameText() throws {
        try withTempDir { dir in
            let text = "https://zwfw.example.gov.cn/pingjia?window=3&staff=A1023"
            let png = dir.appendingPathComponent("f.png")
            let result = try run(binary("pingjia"), ["qr", "--text", text, "--format", "png", "--output", png.path, "--state-dir", dir.path], in: dir)
            #expect(result.status == 0, "\(result)")
            let bytes = try Data(contentsOf: png)
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG")
            #expect(try decode(png, in: dir) == text)
        }
    }

    @Test func staffSVGCarriesThePhoneLinkOfTheHubEnrolledWith() throws {
        try withTempDir { dir in
            let hall = try SetUpHall(in: dir, roster: repoRoot.appendingPathComponent("demo/roster.csv"), windows: "3,4,5")
            let state = hall.state
            let result = try pingjia(["qr", "--staff", "A1023", "--format", "svg"], state: state)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("<svg"), "\(result)")
            let svg = dir.appendingPathComponent("A1023.svg"), png = dir.appendingPathComponent("A1023.png")
            try result.stdoutBytes.write(to: svg)
            let rendered = try run(tool("rsvg-convert"), ["-o", png.path, svg.path], in: dir)
            #expect(rendered.status == 0, "\(rendered)")
            #expect(try decode(png, in: dir) == "\(hall.hubURL)/r/\(try deviceId(of: state))/A1023")
        }
    }

    @Test(arguments: [["--text", "x", "--staff", "A1023"], []])
    func exactlyOneOfTextAndStaff(arguments: [String]) throws {
        try withTempDir { dir in
            let result = try run(binary("pingjia"), ["qr"] + arguments + ["--state-dir", dir.path], in: dir)
            #expect(result.status != 0, "\(result)")
            #expect(result.stderr.contains("exactly one of --text"), "\(result)")
            #expect(result.stdout.isEmpty, "\(result)")
        }
    }
}

@Suite struct DaemonTests {
    @Test(arguments: [SIGTERM, SIGINT])
    func startsAndStopsCleanlyOnSignal(signal: Int32) throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            let daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            let ready = daemon.waitFor(" ready", timeout: 10)
            #expect(ready, "no ready line within 10 s:\n\(daemon.log)")
            guard ready else {
                _ = daemon.waitForExit(timeout: 0)
                return
            }
            #expect(daemon.log.contains("device=\(try deviceId(of: state))"), "\(daemon.log)")
            #expect(daemon.log.contains("storeHealth=ok"), "\(daemon.log)")

            // Right after "ready", as a supervisor may: the signal must already be trapped then
            // (under load an earlier pingjiad logged ready before trapping and died of SIGTERM).
            kill(daemon.process.processIdentifier, signal)
            let status = daemon.waitForExit(timeout: 5)
            #expect(status == 0, "pingjiad did not exit 0 within 5 s of signal \(signal) (status \(String(describing: status))):\n\(daemon.log)")
            #expect(daemon.log.contains(" stopped"), "\(daemon.log)")
        }
    }

    @Test func unknownConfigKeyStopsTheDaemonWithFileAndLine() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            try Data("[rating]\nscale = \"five\"\ncolour = \"red\"\n".utf8).write(to: state.appendingPathComponent("pingjia.toml"))
            let started = Date()
            let daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            let status = daemon.waitForExit(timeout: 5)
            #expect(status != nil && status != 0, "pingjiad should refuse to start (status \(String(describing: status))):\n\(daemon.log)")
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(daemon.log.contains("pingjia.toml:3:"), "\(daemon.log)")
            #expect(daemon.log.contains("colour"), "\(daemon.log)")
            #expect(!daemon.log.contains(" ready"), "\(daemon.log)")
        }
    }
}

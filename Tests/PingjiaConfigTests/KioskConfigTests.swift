import Foundation
import PingjiaCore
import PingjiaQR
import PingjiaTOML
import Testing
@testable import PingjiaConfig

@Suite("KioskConfig")
struct KioskConfigTests {
    static func parseProblems(_ text: String) -> [TOMLProblem] {
        problems { _ = try KioskConfig.parse(text: text, file: "pingjia.toml") }
    }

    @Test func shippedExampleIsWhatInitWrites() throws {
        // systemd/pingjia.toml.example documents the config for packagers; it must not drift
        // from the file `pingjia init` writes.
        let example = try String(contentsOf: repositoryRoot.appendingPathComponent("systemd/pingjia.toml.example"), encoding: .utf8)
        #expect(example == KioskConfig.initialText)
    }

    @Test func initialTextIsExactlyTheDefaults() throws {
        // `pingjia init` writes this file; it claims "the values shown are the defaults".
        let parsed = try KioskConfig.parse(text: KioskConfig.initialText, file: "pingjia.toml")
        #expect(parsed == KioskConfig())
        #expect(parsed.scale == "five")
        #expect(parsed.qrURLTemplate == URLTemplate.default)
        #expect(parsed.qrErrorCorrection == .medium)
        #expect(parsed.logLevel == "info")
        #expect(parsed.deviceName == nil && parsed.hall == nil)
    }

    @Test func emptyFileIsTheDefaults() throws {
        #expect(try KioskConfig.parse(text: "", file: "pingjia.toml") == KioskConfig())
    }

    @Test func everyKeyIsRead() throws {
        let config = try KioskConfig.parse(text: """
            [device]
            name = "3号窗口评价器"
            hall = "某某市政务服务中心"
            [rating]
            scale = "three"
            [qr]
            url_template = "https://hub.example/r/{deviceId}/{windowId}/{staffId}"
            error_correction = "h"
            [log]
            level = "debug"
            """, file: "pingjia.toml")
        #expect(config.deviceName == "3号窗口评价器")
        #expect(config.hall == "某某市政务服务中心")
        #expect(config.scale == "three")
        #expect(config.qrURLTemplate.template == "https://hub.example/r/{deviceId}/{windowId}/{staffId}")
        #expect(config.qrErrorCorrection == .high, "lowercase is accepted")
        #expect(config.logLevel == "debug")
    }

    @Test(arguments: KioskConfig.logLevels)
    func everyLogLevelIsAccepted(_ level: String) throws {
        #expect(try KioskConfig.parse(text: "[log]\nlevel = \"\(level)\"\n", file: "p.toml").logLevel == level)
    }

    @Test(arguments: [("L", QRErrorCorrection.low), ("M", .medium), ("q", .quartile), ("H", .high)])
    func everyErrorCorrectionIsAccepted(_ text: String, _ expected: QRErrorCorrection) throws {
        #expect(try KioskConfig.parse(text: "[qr]\nerror_correction = \"\(text)\"\n", file: "p.toml").qrErrorCorrection == expected)
    }

    @Test func unknownKeyIsRejectedOnItsLine() {
        let found = Self.parseProblems("""
            [device]
            name = "x"

            [qr]
            error_correction = "M"
            colour = "red"
            """)
        #expect(found.map(\.description) == [
            "pingjia.toml:6: unknown key 'colour' in [qr] (known keys: error_correction, token_minutes, url_template)",
        ])
    }

    @Test func unknownSectionIsRejectedOnItsLine() {
        let found = Self.parseProblems("""
            [rating]
            scale = "five"
            [display]
            brightness = 80
            """)
        #expect(found.map(\.line) == [3])
        #expect(found.first?.message.hasPrefix("unknown key 'display' at the top level") == true)
    }

    @Test func badErrorCorrection() {
        let found = Self.parseProblems("[qr]\nerror_correction = \"X\"\n")
        #expect(found.map(\.description) == ["pingjia.toml:2: error_correction 'X' must be one of L, M, Q, H"])
    }

    @Test func badLogLevel() {
        let found = Self.parseProblems("# log\n[log]\n\nlevel = \"verbose\"\n")
        #expect(found.map(\.line) == [4])
        #expect(found.first?.message == "log level 'verbose' must be one of trace, debug, info, notice, warning, error, critical")
    }

    @Test func badURLTemplate() {
        let found = Self.parseProblems("[qr]\nurl_template = \"https://hub.example/r/{staff}\"\n")
        #expect(found.map(\.line) == [2])
        #expect(found.first?.message.contains("unknown placeholder {staff}") == true)
    }

    @Test func badScaleName() {
        let found = Self.parseProblems("[rating]\nscale = \"Five Levels\"\n")
        #expect(found.map(\.line) == [2])
        #expect(found.first?.message.contains("is not a scale name") == true)
    }

    @Test func wrongTypes() {
        let found = Self.parseProblems("""
            [device]
            name = 3
            [log]
            level = true
            """)
        #expect(found.map(\.line) == [2, 4])
        #expect(found.map(\.message) == ["'name' must be a string, not integer", "'level' must be a string, not bool"])
    }

    @Test func sectionThatIsNotATable() {
        let found = Self.parseProblems("qr = \"M\"\n")
        #expect(found.map(\.line) == [1])
        #expect(found.first?.message.contains("'qr' must be a table ([qr])") == true)
    }

    @Test func allProblemsAreReportedInLineOrder() {
        let found = Self.parseProblems("""
            [log]
            level = "loud"
            [qr]
            error_correction = "Z"
            url_template = "ftp://x/{staffId}"
            [rating]
            skale = "five"
            """)
        #expect(found.map(\.line) == [2, 4, 5, 7])
    }

    @Test func missingDefaultConfigMeansDefaults() throws {
        try withTemporaryDirectory { dir in
            let location = StateLocation(stateDirectory: dir.path, configFile: nil, environment: [:], isRoot: false)
            let config = try KioskConfig.load(location)
            #expect(config == KioskConfig())
        }
    }

    @Test func missingExplicitConfigIsAnError() throws {
        try withTemporaryDirectory { dir in
            let missing = dir.appendingPathComponent("typo.toml").path
            for location in [
                StateLocation(stateDirectory: dir.path, configFile: missing, environment: [:], isRoot: false),
                StateLocation(stateDirectory: dir.path, configFile: nil, environment: ["PINGJIA_CONFIG": missing], isRoot: false),
            ] {
                let found = problems { _ = try KioskConfig.load(location) }
                #expect(found.count == 1)
                #expect(found.first?.file == missing)
                #expect(found.first?.line == nil)
                #expect(found.first?.message.contains("config file not found") == true)
            }
        }
    }

    @Test func loadReadsTheFileAndReportsItsPath() throws {
        try withTemporaryDirectory { dir in
            let location = StateLocation(stateDirectory: dir.path, configFile: nil, environment: [:], isRoot: false)
            try write("[rating]\nscale = \"three\"\n", to: URL(fileURLWithPath: location.configFile))
            #expect(try KioskConfig.load(location).scale == "three")

            try write("[rating]\nscale = \"three\"\nbogus = 1\n", to: URL(fileURLWithPath: location.configFile))
            let found = problems { _ = try KioskConfig.load(location) }
            #expect(found.map(\.description).first?.hasPrefix("\(location.configFile):3: unknown key 'bogus'") == true)
        }
    }
}

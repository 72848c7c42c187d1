import Foundation
import Testing
@testable import PingjiaConfig

@Suite("StateLocation precedence")
struct StateLocationTests {
    static let cwd = FileManager.default.currentDirectoryPath
    static let env = ["PINGJIA_STATE_DIR": "/srv/env-state", "PINGJIA_CONFIG": "/etc/env.toml"]

    @Test func optionBeatsEnvironmentAndDefaults() {
        let location = StateLocation(stateDirectory: "/srv/option", configFile: "/etc/option.toml",
                                     environment: Self.env, isRoot: true)
        #expect(location.stateDirectory == "/srv/option")
        #expect(location.configFile == "/etc/option.toml")
        #expect(location.configIsExplicit)
    }

    @Test func environmentBeatsDefaults() {
        let location = StateLocation(stateDirectory: nil, configFile: nil, environment: Self.env, isRoot: true)
        #expect(location.stateDirectory == "/srv/env-state")
        #expect(location.configFile == "/etc/env.toml")
        #expect(location.configIsExplicit)
    }

    @Test func rootDefaultIsVarLib() {
        let location = StateLocation(stateDirectory: nil, configFile: nil, environment: [:], isRoot: true)
        #expect(location.stateDirectory == "/var/lib/pingjia")
        #expect(location.configFile == "/var/lib/pingjia/pingjia.toml")
        #expect(!location.configIsExplicit)
    }

    @Test func userDefaultIsDotPingjiaInTheWorkingDirectory() {
        let location = StateLocation(stateDirectory: nil, configFile: nil, environment: [:], isRoot: false)
        #expect(location.stateDirectory == (Self.cwd as NSString).appendingPathComponent(".pingjia"))
        #expect(location.stateDirectory.hasPrefix("/"))
        #expect(location.configFile == location.stateDirectory + "/pingjia.toml")
        #expect(!location.configIsExplicit)
    }

    @Test func relativeOptionsAreResolvedAgainstTheWorkingDirectory() {
        let location = StateLocation(stateDirectory: "kiosk/./state", configFile: "conf/../my.toml",
                                     environment: [:], isRoot: false)
        #expect(location.stateDirectory == (Self.cwd as NSString).appendingPathComponent("kiosk/state"))
        #expect(location.configFile == (Self.cwd as NSString).appendingPathComponent("my.toml"))
    }

    @Test func relativeEnvironmentIsResolvedAgainstTheWorkingDirectory() {
        let location = StateLocation(stateDirectory: nil, configFile: nil,
                                     environment: ["PINGJIA_STATE_DIR": "st"], isRoot: true)
        #expect(location.stateDirectory == (Self.cwd as NSString).appendingPathComponent("st"))
    }

    @Test func stateOptionWithConfigFromEnvironment() {
        let location = StateLocation(stateDirectory: "/srv/option", configFile: nil,
                                     environment: Self.env, isRoot: false)
        #expect(location.stateDirectory == "/srv/option")
        #expect(location.configFile == "/etc/env.toml")
        #expect(location.configIsExplicit)
    }

    @Test func configDefaultsIntoTheChosenStateDirectory() {
        let location = StateLocation(stateDirectory: nil, configFile: nil,
                                     environment: ["PINGJIA_STATE_DIR": "/srv/env-state/"], isRoot: false)
        #expect(location.stateDirectory == "/srv/env-state")
        #expect(location.configFile == "/srv/env-state/pingjia.toml")
        #expect(!location.configIsExplicit)
    }

    @Test func emptyValuesCountAsUnset() {
        // `PINGJIA_STATE_DIR= pingjiad` or `--config ""` from a script must not mean "the cwd".
        let location = StateLocation(stateDirectory: "", configFile: "",
                                     environment: ["PINGJIA_STATE_DIR": "", "PINGJIA_CONFIG": ""], isRoot: true)
        #expect(location.stateDirectory == "/var/lib/pingjia")
        #expect(location.configFile == "/var/lib/pingjia/pingjia.toml")
        #expect(!location.configIsExplicit)
    }

    @Test func filesInsideTheStateDirectory() {
        let location = StateLocation(stateDirectory: "/srv/k", configFile: nil, environment: [:], isRoot: false)
        #expect(location.storeFile == "/srv/k/pingjia.db")
        #expect(location.photosDirectory == "/srv/k/photos")
        #expect(location.scalesDirectory == "/srv/k/scales")
        #expect(location.path("device-id") == "/srv/k/device-id")
    }
}

import ArgumentParser
import Foundation
import Logging
import PingjiaConfig
import PingjiaKiosk

@main
struct Pingjia: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingjia",
        abstract: "Set up and check a Pingjia (好差评) rating kiosk.",
        discussion: """
            State directory: --state-dir, else $PINGJIA_STATE_DIR, else /var/lib/pingjia as root and
            ./.pingjia otherwise. Config: --config, else $PINGJIA_CONFIG, else <state-dir>/pingjia.toml.
            """,
        subcommands: [SetupCommand.self, Init.self, QR.self, Roster.self, Rate.self, Outbox.self, Enroll.self, Sync.self, Scales.self, Devices.self, StaffCommand.self, Pair.self, SelfTestCommand.self, ConfigCommand.self,
                      Version.self]
    )
}

/// Options every command that touches a kiosk's state takes.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The kiosk's state directory.")
    var stateDir: String?

    @Option(help: "The config file.")
    var config: String?

    var location: StateLocation { StateLocation(stateDirectory: stateDir, configFile: config) }

    /// Opens the kiosk; unless `create`, a kiosk that was never initialised is an error.
    func open(create: Bool = false) throws -> KioskContext {
        restrictNewFiles()
        LoggingSystem.bootstrapOnce()
        var logger = Logger(label: "pingjia")
        logger.logLevel = .warning
        do {
            return try KioskContext(location: location, create: create, logger: logger)
        } catch {
            throw Failure(error.description)
        }
    }
}

/// Files the kiosk creates (store, WAL, device id, config) hold ratings and the roster: readable by
/// the service's group, not by every user of the machine. The systemd unit sets the same UMask.
func restrictNewFiles() {
    umask(0o027)
}

/// An error already phrased for the installer: printed as is, exit status 1.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension AsyncParsableCommand {
    /// Prints our own errors as plain `pingjia: …` lines (ArgumentParser would add "Error:" and
    /// usage text meant for typos, not for a broken CSV row).
    static func fail(_ error: any Error) -> Never {
        let text = String(describing: error)
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            FileHandle.standardError.write(Data("pingjia: \(line)\n".utf8))
        }
        Foundation.exit(1)
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

extension LoggingSystem {
    private static let once: Void = {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }()

    static func bootstrapOnce() { _ = once }
}

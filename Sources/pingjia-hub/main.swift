import ArgumentParser
import Foundation
import Logging
import PingjiaHub
import PingjiaSyncProtocol
import ServiceLifecycle

/// The central server: receives every rating of every enrolled kiosk exactly once.
@main
struct PingjiaHubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingjia-hub",
        abstract: "The Pingjia hub: enrolls kiosks, ingests their signed rating batches, feeds the provincial platform.",
        subcommands: [Serve.self, Devices.self, Alarms.self]
    )
}

struct HubOptions: ParsableArguments {
    @Option(help: "The hub's SQLite database.")
    var db = "./.pingjia-hub/hub.db"

    @Option(help: "The hub's Ed25519 key, which signs receipts (default: hub.key beside the database; made at first use, mode 0600).")
    var key: String?

    func open(logger: Logger = Logger(label: "pingjia-hub")) throws -> Hub {
        let storage: SQLiteHubStorage
        do { storage = try SQLiteHubStorage(path: db) } catch { throw Failure(error.description) }
        let keyPath = key ?? ((db as NSString).deletingLastPathComponent as NSString).appendingPathComponent("hub.key")
        do {
            return Hub(storage: storage, key: try SigningKey.load(path: keyPath, create: true), logger: logger)
        } catch {
            throw Failure(error.description)
        }
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ParsableCommand {
    static func fail(_ error: any Error) -> Never {
        for line in String(describing: error).split(separator: "\n") {
            FileHandle.standardError.write(Data("pingjia-hub: \(line)\n".utf8))
        }
        Foundation.exit(1)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the hub's HTTP server until SIGTERM or SIGINT.")

    @OptionGroup var hubOptions: HubOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the log says which).")
    var port = 8780

    @Option(name: .customLong("export-token-file"), help: "File holding the bearer token of the provincial export feed (off without it).")
    var exportTokenFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "pingjia-hub")
        let hub: Hub
        var settings = HubSettings()
        do {
            hub = try hubOptions.open(logger: logger)
            settings.host = host
            settings.port = port
            if let exportTokenFile {
                guard let data = FileManager.default.contents(atPath: exportTokenFile) else {
                    throw Failure("cannot read the export token file \(exportTokenFile)")
                }
                let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                guard token.count >= 16 else { throw Failure("\(exportTokenFile): the export token must be at least 16 characters") }
                settings.exportToken = token
            }
        } catch {
            Self.fail(error)
        }
        let app = buildApplication(hub: hub, settings: settings, logger: logger) { port in
            logger.info("ready", metadata: ["listening": "\(host):\(port)", "db": "\(hubOptions.db)",
                                            "hubKey": "\(hub.key.publicKey.base64)"])
        }
        // The puller fetches from devices in pull mode (`devices pull`); it stops before the server.
        let puller = Puller(hub: hub, logger: logger)
        let group = ServiceGroup(services: [app, puller], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        await hub.storage.close()
    }
}

struct Devices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The device registry.", subcommands: [Add.self, List.self, Revoke.self, Pull.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a device and print its one-time enrollment code.",
            discussion: "On the kiosk: pingjia enroll --hub URL --code CODE")

        @OptionGroup var hubOptions: HubOptions
        @Option(help: "The service hall.") var hall: String
        @Option(help: "A name for the device, e.g. 3号窗口评价器.") var name: String
        @Option(name: .customLong("valid-hours"), help: "How long the code can be used.") var validHours = 24

        func run() async throws {
            do {
                guard (1...24 * 30).contains(validHours) else { throw Failure("--valid-hours must be 1-720") }
                let hub = try hubOptions.open()
                let added = try await hub.addDevice(hall: hall, name: name, validFor: TimeInterval(validHours) * 3600)
                print(added.code)
                FileHandle.standardError.write(Data("""
                    device slot \(added.slot) (\(hall) / \(name)): enrollment code \(added.code), single use, valid until \(WireTime.format(added.expiresAt))
                    on the kiosk: pingjia enroll --hub URL --code \(added.code)

                    """.utf8))
            } catch {
                Self.fail(error)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List devices: status, last seq, clock offset.")
        @OptionGroup var hubOptions: HubOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            do {
                let devices = try await hubOptions.open().storage.devices()
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(devices), as: UTF8.self))
                    return
                }
                for device in devices {
                    print("\(device.slot)\t\(device.deviceId ?? "-")\t\(device.status.rawValue)\t\(device.hall)\t\(device.name)"
                          + "\tlast seq \(device.lastSeq)\tclock offset \(device.clockOffsetMs.map { "\($0) ms" } ?? "-")")
                }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a device: its batches are refused with 403 from now on.")
        @OptionGroup var hubOptions: HubOptions
        @Argument(help: "The device id (pj-…).") var id: String

        func run() async throws {
            do {
                let entry = try await hubOptions.open().storage.revoke(deviceId: id, now: Date())
                print("revoked \(id) (\(entry.hall) / \(entry.name)); records held through seq \(entry.lastSeq)")
            } catch {
                Self.fail(error)
            }
        }
    }
}

extension Devices {
    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a device's ratings from it (pull mode) instead of waiting for its pushes.",
            discussion: "The kiosk needs [sync] mode = \"pull\" and listen = \"0.0.0.0:8781\"; the running hub picks the change up within 5 s.")
        @OptionGroup var hubOptions: HubOptions
        @Argument(help: "The device id (pj-…).") var id: String
        @Option(help: "The kiosk's sync address, e.g. http://10.1.2.3:8781") var url: String?
        @Flag(help: "Back to push mode.") var push = false

        func run() async throws {
            do {
                guard (url != nil) != push else { throw Failure("give exactly one of --url URL and --push") }
                if let url {
                    guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                        throw Failure("--url '\(url)' must be an http:// or https:// URL, e.g. http://10.1.2.3:8781")
                    }
                }
                try await hubOptions.open().storage.setPullURL(deviceId: id, url: url)
                print(url.map { "the hub pulls \(id) from \($0)" } ?? "\(id) pushes to the hub")
            } catch {
                Self.fail(error)
            }
        }
    }
}

struct Alarms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List alarms: conflicting or broken chains refused at ingest.")
    @OptionGroup var hubOptions: HubOptions

    func run() async throws {
        do {
            for alarm in try await hubOptions.open().storage.alarms() {
                print("\(alarm.at)\t\(alarm.deviceId)\t\(alarm.kind)\tseq \(alarm.seq.map(String.init) ?? "-")\t\(alarm.detail)")
            }
        } catch {
            Self.fail(error)
        }
    }
}

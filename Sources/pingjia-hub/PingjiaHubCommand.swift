import ArgumentParser
import Foundation
import Logging
import PingjiaHub
import PingjiaSyncProtocol
import ServiceLifecycle

/// The central server: receives every rating of every enrolled kiosk exactly once.
/// (`@main` in a file not named main.swift: the executable has one file per subcommand.)
@main
struct PingjiaHubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pingjia-hub",
        abstract: "The Pingjia hub: enrolls kiosks, ingests their signed rating batches, feeds the provincial platform.",
        subcommands: [Serve.self, Devices.self, Alarms.self, Roster.self, Halls.self, Users.self, ReportCommand.self, Fleet.self,
                      ConfigCommand.self, BenchIngest.self]
    )
}

struct HubOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The hub's database: a SQLite file, or PostgreSQL as postgres://USER@HOST[:PORT]/DB[?schema=NAME].",
                               discussion: "Several `serve` instances may share one PostgreSQL database (and one --key). "
                                   + "Default: $PINGJIA_HUB_DB, else /var/lib/pingjia-hub/hub.db as root (where the packaged hub keeps it), else ./.pingjia-hub/hub.db."))
    var db = HubOptions.defaultDatabase

    /// As the kiosk's state directory: the environment, else the packaged service's place for
    /// root (the operator's shell on the hub), else a folder in the current directory.
    static var defaultDatabase: String {
        if let path = ProcessInfo.processInfo.environment["PINGJIA_HUB_DB"], !path.isEmpty { return path }
        return geteuid() == 0 ? "/var/lib/pingjia-hub/hub.db" : "./.pingjia-hub/hub.db"
    }

    @Option(help: "The hub's Ed25519 key, which signs receipts (default: hub.key beside a SQLite database; made at first use, mode 0600). Required to serve from PostgreSQL.")
    var key: String?

    /// The storage the hub would open, as shown in logs (a PostgreSQL URL without its password).
    var location: String { (try? PostgresHubStorage.location(of: db)) ?? db }

    /// Opens the storage and the key. `signing` is for `serve`: with PostgreSQL the key must be
    /// given, since every instance on the database has to sign with the same one.
    func open(logger: Logger = Logger(label: "pingjia-hub"), signing: Bool = false) async throws -> Hub {
        if signing, key == nil, PostgresHubStorage.isURL(db) {
            throw Failure("--key FILE is required with a PostgreSQL database: every hub instance on it must sign receipts "
                          + "with the same key (kiosks accept no other), so give each instance a copy of one hub.key")
        }
        let storage: any HubStorage
        do {
            storage = PostgresHubStorage.isURL(db) ? try await PostgresHubStorage(url: db, logger: Self.quiet(logger))
                                                   : try SQLiteHubStorage(path: db)
        } catch {
            throw Failure(error.description)
        }
        let keyPath: String
        if let key {
            keyPath = key
        } else if PostgresHubStorage.isURL(db) {
            // Registry and alarm commands sign nothing (`serve` was checked above).
            return Hub(storage: storage, key: SigningKey(), logger: logger)
        } else {
            keyPath = ((db as NSString).deletingLastPathComponent as NSString).appendingPathComponent("hub.key")
        }
        do {
            return Hub(storage: storage, key: try SigningKey.load(path: keyPath, create: true), logger: logger)
        } catch {
            await storage.close()
            throw Failure(error.description)
        }
    }

    /// The PostgreSQL client's own log: errors only (its warnings are pool chatter; what goes
    /// wrong reaches the hub as an error with a message of ours).
    static func quiet(_ logger: Logger) -> Logger {
        var logger = logger
        logger.logLevel = max(logger.logLevel, .error)
        return logger
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
    @OptionGroup(title: "Alerts and webhooks") var fleetOptions: FleetServeOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one; the log says which).")
    var port = 8780

    @Option(name: .customLong("export-token-file"), help: "File holding the bearer token of the provincial export feed (off without it).")
    var exportTokenFile: String?

    @Option(name: .customLong("client-address-header"),
            help: "Behind a reverse proxy: the header it writes the phone's address into (e.g. X-Real-IP), for the phone page's limits.")
    var clientAddressHeader: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "差评 case deadlines and working-day calendar (default: the shipped hub/workflow.toml).")
    var workflow: String?

    @Flag(name: .customLong("admin-secure-cookie"), help: "Mark admin session cookies Secure (when clients reach the hub over https).")
    var adminSecureCookie = false

    @Option(name: .customLong("public-url"),
            help: "Where phones reach this hub, e.g. https://pingjia.example.gov.cn: kiosks enrolled from now on print QR codes to its phone page.")
    var publicURL: String?

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
        var fleetServices: [any Service] = []
        do {
            hub = try await hubOptions.open(logger: logger, signing: true)
            // The phone page cannot offer a hall a scale that did not load: say so at start, not per phone.
            for problem in hub.scales.problems { logger.error("scale file rejected", metadata: ["problem": "\(problem)"]) }
            if hub.scales.scales.isEmpty {
                logger.error("no rating scale loaded: the phone page will refuse every rating; install scales/ or set PINGJIA_DATA_DIR")
            }
            fleetServices = try fleetOptions.services(hub: hub, logger: logger)
            settings.host = host
            settings.port = port
            settings.clientAddressHeader = clientAddressHeader
            settings.adminSecureCookie = adminSecureCookie
            if let publicURL {
                guard let url = HubSettings.checkPublicURL(publicURL) else {
                    throw Failure("--public-url must be the hub's address as phones reach it, like https://pingjia.example.gov.cn (got '\(publicURL)')")
                }
                settings.publicURL = url
            } else {
                logger.warning("no --public-url: kiosks that enroll cannot print QR codes to this hub's phone page until it is set")
            }
            settings.workflow = try loadWorkflow(logger: logger)
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
            logger.info("ready", metadata: ["listening": "\(host):\(port)", "db": "\(hubOptions.location)",
                                            "hubKey": "\(hub.key.publicKey.base64)"])
        }
        // The puller fetches from devices in pull mode (`devices pull`); it stops before the server.
        let puller = Puller(hub: hub, logger: logger)
        let group = ServiceGroup(services: [app, puller] + fleetServices, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
        await hub.storage.close()
    }
}

extension Serve {
    func loadWorkflow(logger: Logger) throws -> CaseWorkflowConfig {
        guard let path = workflow ?? CaseWorkflowConfig.shippedFile() else {
            logger.warning("no hub/workflow.toml found: 差评 cases have no deadlines (give --workflow FILE)")
            return .empty
        }
        do {
            return try CaseWorkflowConfig.load(path: path)
        } catch {
            throw Failure(error.description)
        }
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
                let hub = try await hubOptions.open()
                let added = try await hub.addDevice(hall: hall, name: name, validFor: TimeInterval(validHours) * 3600)
                await hub.storage.close()
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
                let storage = try await hubOptions.open().storage
                let devices = try await storage.devices()
                await storage.close()
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
                let storage = try await hubOptions.open().storage
                let entry = try await storage.revoke(deviceId: id, now: Date())
                await storage.close()
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
                let storage = try await hubOptions.open().storage
                try await storage.setPullURL(deviceId: id, url: url)
                await storage.close()
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
            let storage = try await hubOptions.open().storage
            let alarms = try await storage.alarms()
            await storage.close()
            for alarm in alarms {
                print("\(alarm.at)\t\(alarm.deviceId)\t\(alarm.kind)\tseq \(alarm.seq.map(String.init) ?? "-")\t\(alarm.detail)")
            }
        } catch {
            Self.fail(error)
        }
    }
}

/// Hidden: the ingest rate of a backend, for the Benchmarks/ package (see `IngestBenchmark`).
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-ingest",
        abstract: "Measure the ingest rate of a storage backend with simulated devices (writes benchmark data into --db).",
        shouldDisplay: false)

    @Option(help: "A new SQLite file, or postgres://USER@HOST:PORT/DB?schema=NEW_SCHEMA.") var db: String
    @Option(help: "Simulated devices.") var devices = 1000
    @Option(help: "Ratings in all, spread evenly over the devices.") var ratings = 1_000_000
    @Option(help: "Records per batch (a kiosk sends up to 500).") var batch = 500
    @Option(help: "Batches in flight at once.") var concurrency = 16

    func validate() throws {
        guard devices > 0, ratings >= devices, batch > 0, concurrency > 0 else {
            throw ValidationError("--devices, --batch and --concurrency must be positive, --ratings at least --devices")
        }
        if !PostgresHubStorage.isURL(db), FileManager.default.fileExists(atPath: db) {
            throw ValidationError("\(db) exists: bench-ingest writes benchmark data, give a new file")
        }
    }

    func run() async throws {
        let storage: any HubStorage
        do {
            storage = PostgresHubStorage.isURL(db)
                ? try await PostgresHubStorage(url: db, maxConnections: concurrency, logger: HubOptions.quiet(Logger(label: "bench")))
                : try SQLiteHubStorage(path: db)
        } catch {
            Self.fail(error)
        }
        let outcome = try await IngestBenchmark.run(storage: storage, devices: devices, ratings: ratings, batch: batch,
                                                    concurrency: concurrency)
        await storage.close()
        let backend = PostgresHubStorage.isURL(db) ? "postgres" : "sqlite"
        print("{\"backend\":\"\(backend)\",\"devices\":\(outcome.devices),\"ratings\":\(outcome.ratings),\"batch\":\(outcome.batch),"
              + "\"concurrency\":\(outcome.concurrency),\"seconds\":\(String(format: "%.2f", outcome.seconds)),"
              + "\"ratingsPerSecond\":\(outcome.ratingsPerSecond),\"failedBatches\":\(outcome.failedBatches)}")
        if outcome.failedBatches > 0 || outcome.ratings != ratings { throw ExitCode(1) }
    }
}

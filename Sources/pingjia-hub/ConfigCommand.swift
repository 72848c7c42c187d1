import ArgumentParser
import Foundation
import PingjiaConfig
import PingjiaHub

/// `pingjia-hub config`: the configuration the hub holds for halls and devices.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Remote configuration of kiosks: set a hall's or a device's document, show, status.",
        discussion: """
            Documents use the keys of the kiosk's pingjia.toml; only [rating], [qr], [session] and [[window]] may be set \
            remotely. Keys written in a kiosk's own pingjia.toml win over the hub's.
            """,
        subcommands: [SetDocument.self, Show.self, Status.self])

    struct SetDocument: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Check a TOML document with the kiosk's validator and store it for a hall or a device.",
            discussion: "Every enrolled device it reaches gets a new version and fetches it.")
        @OptionGroup var hubOptions: HubOptions
        @Option(help: "Every device of this hall.") var hall: String?
        @Option(help: "This device (pj-…); its document goes over its hall's.") var device: String?
        @Argument(help: "The TOML document.") var file: String

        func run() async throws {
            do {
                guard (hall == nil) != (device == nil) else { throw Failure("give exactly one of --hall H and --device ID") }
                let scope: ConfigScope = hall.map { .hall($0) } ?? .device(device!)
                guard let data = FileManager.default.contents(atPath: file) else { throw Failure("cannot read \(file)") }
                guard let text = String(data: data, encoding: .utf8) else { throw Failure("\(file): not UTF-8 text: save the file as UTF-8") }
                let hub = try await hubOptions.open()
                let versions: [(deviceId: String, version: Int)]
                do {
                    versions = try await hub.setConfig(scope, document: text, file: file)
                } catch {
                    await hub.storage.close()
                    throw error
                }
                await hub.storage.close()
                if versions.isEmpty {
                    print("\(scope): unchanged, or no enrolled device yet (devices enrolled later fetch it)")
                }
                for entry in versions { print("\(entry.deviceId)\tversion \(entry.version)") }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A device's effective document (its hall's with its own over it) and version, or a hall's document.")
        @OptionGroup var hubOptions: HubOptions
        @Option(help: "The device (pj-…).") var device: String?
        @Option(help: "The hall.") var hall: String?

        func run() async throws {
            do {
                guard (hall == nil) != (device == nil) else { throw Failure("give exactly one of --hall H and --device ID") }
                let hub = try await hubOptions.open()
                if let hall {
                    let document: String?
                    do { document = try await hub.storage.configDocument(.hall(hall)) } catch {
                        await hub.storage.close()
                        throw error
                    }
                    await hub.storage.close()
                    guard let document else {
                        throw Failure("no document for hall '\(hall)' (`pingjia-hub config set --hall \(hall) FILE`)")
                    }
                    print(document, terminator: document.hasSuffix("\n") ? "" : "\n")
                    return
                }
                let effective: (entry: RemoteConfigEntry, layer: PingjiaConfig.ConfigLayer)?
                do { effective = try await hub.effectiveConfig(deviceId: device!) } catch {
                    await hub.storage.close()
                    throw error
                }
                await hub.storage.close()
                guard let (entry, layer) = effective else {
                    throw Failure("no document reaches \(device!): set one for its hall or for it (`pingjia-hub config set`)")
                }
                print("# \(entry.deviceId) (hall \(entry.hall)), version \(entry.version)")
                print("# from: " + [entry.hallDocument.map { _ in "hall document" }, entry.deviceDocument.map { _ in "device document" }]
                    .compactMap { $0 }.joined(separator: " + ") + "; keys in the kiosk's own pingjia.toml win over these")
                print(layer.toml(), terminator: "")
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Per device: latest version, applied version, refused version and why, local overrides, and the roster.",
            discussion: "roster: current (the kiosk follows the hub's roster of its hall), behind, unknown (no heartbeat naming one yet), none (the hub holds no roster for the hall).")
        @OptionGroup var hubOptions: HubOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            do {
                let storage = try await hubOptions.open().storage
                let statuses = try await Hub.remoteConfigStatus(storage)
                await storage.close()
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(statuses), as: UTF8.self))
                    return
                }
                print("device\thall\tlatest\tapplied\trefused\treason\toverrides\troster")
                for status in statuses {
                    func text(_ value: Int?) -> String { value.map(String.init) ?? "-" }
                    print("\(status.deviceId)\t\(status.hall)\t\(text(status.latestVersion))\t\(text(status.appliedVersion))"
                          + "\t\(text(status.refusedVersion))\t\(status.refusedReason?.replacingOccurrences(of: "\n", with: " / ") ?? "-")"
                          + "\t\(status.overrides.isEmpty ? "-" : status.overrides.joined(separator: ","))\t\(status.roster ?? "-")")
                }
            } catch {
                Self.fail(error)
            }
        }
    }
}

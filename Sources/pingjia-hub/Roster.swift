import ArgumentParser
import Foundation
import PingjiaCore
import PingjiaHub
import PingjiaRoster

/// The hub's copy of each hall's staff roster: what the phone page shows (photo, name, 工号, window).
struct Roster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import and list a hall's staff for the phone rating page.",
        subcommands: [Import.self, List.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a hall's staff from a CSV file (all rows or none), photos included.",
            discussion: """
                The same CSV as `pingjia roster import` on a kiosk: staff_id/工号, name/姓名, window/窗口 (required);
                window_name/窗口名称, photo/照片, matters/事项 (optional). Photos are read from --photos DIR and
                stored in the hub database (JPEG, PNG or WebP, at most 512 KiB each). Any bad row or photo is
                reported as file:line and nothing is applied. The change is shown (+ / ~ / -) before it is applied.
                """
        )

        @OptionGroup var hubOptions: HubOptions
        @Option(help: "The hall, as given to `pingjia-hub devices add --hall`.") var hall: String
        @Argument(help: "The roster CSV (UTF-8).") var file: String
        @Option(help: "The folder holding the photo files the CSV names.") var photos: String?
        @Option(help: "Also set the hall's rating scale (five, three, or a scale file's name).") var scale: String?
        @Flag(help: "The file is the whole roster: remove the hall's staff who are not in it.") var replace = false
        @Flag(name: .customLong("dry-run"), help: "Only show what would change.") var dryRun = false

        func run() async throws {
            do {
                guard !hall.isEmpty else { throw Failure("--hall must not be empty") }
                let roster = try RosterCSV.load(file: file)
                let loaded = try loadPhotos(roster)
                let hub = try await hubOptions.open()
                if let scale, hub.scales.scales[scale] == nil {
                    throw Failure("--scale: unknown rating scale '\(scale)' (known: \(hub.scales.scales.keys.sorted().joined(separator: ", ")))")
                }
                let windowNames = Dictionary(roster.windows.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
                let incoming = roster.staff.map { HubStaff(staff: $0, windowName: windowNames[$0.windowId] ?? "窗口 \($0.windowId)") }
                let current = try await hub.storage.hubRoster(hall: hall)
                // Shown before it is applied, as on the kiosk, so a wrong file or hall is noticed at a glance.
                let diff = RosterDiff(current: current.map(\.staff), incoming: roster.staff, replace: replace)
                for line in diff.lines { print(line) }
                if diff.isEmpty { print("no change to the staff of \(hall)") }
                if dryRun {
                    print("dry run: nothing applied")
                    await hub.storage.close()
                    return
                }
                let summary = try await hub.storage.importHubRoster(hall: hall, staff: incoming, photos: loaded, replace: replace, now: Date())
                if let scale { try await hub.storage.setHallScale(hall: hall, scale: scale) }
                print("imported \(file) into \(hall): \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed; "
                      + "\(loaded.count) photos")
                if !roster.ignoredColumns.isEmpty { print("ignored columns: \(roster.ignoredColumns.joined(separator: ", "))") }
                if try await hub.storage.devices().contains(where: { $0.hall == hall }) == false {
                    print("note: no device of hall '\(hall)' is registered yet (`pingjia-hub devices add --hall \(hall)`)")
                }
                await hub.storage.close()
            } catch {
                Self.fail(error)
            }
        }

        /// Reads and checks each photo the roster names; every problem names the CSV line.
        func loadPhotos(_ roster: RosterFile) throws -> [String: StaffPhoto] {
            var photos: [String: StaffPhoto] = [:]
            var problems: [String] = []
            for person in roster.staff {
                guard let name = person.photo else { continue }
                let at = "\(file):\(roster.lines[person.id] ?? 0)"
                guard let directory = self.photos else {
                    problems.append("\(at): 照片 '\(name)' of \(person.id) is named, but no --photos DIR was given to read it from")
                    continue
                }
                let path = (directory as NSString).appendingPathComponent(name)
                guard let data = FileManager.default.contents(atPath: path) else {
                    problems.append("\(at): 照片 \(path) of \(person.id) cannot be read (missing, or no permission)")
                    continue
                }
                switch StaffPhoto.check([UInt8](data)) {
                case .success(let photo): photos[person.id] = photo
                case .failure(let problem): problems.append("\(at): 照片 \(path) of \(person.id) \(problem)")
                }
            }
            guard problems.isEmpty else {
                throw Failure((problems + ["roster unchanged: fix the lines above and import again"]).joined(separator: "\n"))
            }
            return photos
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a hall's staff as the hub holds them.")
        @OptionGroup var hubOptions: HubOptions
        @Option(help: "The hall.") var hall: String
        @Flag(help: "Print JSON.") var json = false

        struct Listing: Encodable {
            struct Person: Encodable {
                let staffId: String, name: String, window: String, windowName: String, photo: String?, matters: [String]
            }
            let hall: String
            let scale: String
            let staff: [Person]
        }

        func run() async throws {
            do {
                let storage = try await hubOptions.open().storage
                let staff = try await storage.hubRoster(hall: hall)
                let scale = try await storage.hallScale(hall: hall)
                await storage.close()
                if json {
                    let listing = Listing(hall: hall, scale: scale ?? HubScales.defaultScale, staff: staff.map {
                        .init(staffId: $0.staff.id, name: $0.staff.name, window: $0.staff.windowId, windowName: $0.windowName,
                              photo: $0.staff.photo, matters: $0.staff.matters)
                    })
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(listing), as: UTF8.self))
                    return
                }
                print("hall \(hall): scale \(scale ?? "\(HubScales.defaultScale) (default)"), \(staff.count) staff")
                guard !staff.isEmpty else {
                    print("no staff yet: import them with `pingjia-hub roster import --hall \(hall) FILE.csv`")
                    return
                }
                print("工号\t姓名\t窗口\t窗口名称\t照片")
                for person in staff {
                    print([person.staff.id, person.staff.name, person.staff.windowId, person.windowName, person.staff.photo ?? "-"]
                        .joined(separator: "\t"))
                }
            } catch {
                Self.fail(error)
            }
        }
    }
}

/// Per-hall settings the hub keeps: today the rating scale of the phone page.
struct Halls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Set a hall's rating scale for the phone page.",
                                                    subcommands: [SetScale.self])

    struct SetScale: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "set-scale", abstract: "Set the scale a hall's phone page offers (default five).")
        @OptionGroup var hubOptions: HubOptions
        @Option(help: "The hall.") var hall: String
        @Argument(help: "The scale's name: five, three, or a scale file's name.") var scale: String

        func run() async throws {
            do {
                let hub = try await hubOptions.open()
                guard hub.scales.scales[scale] != nil else {
                    await hub.storage.close()
                    throw Failure("unknown rating scale '\(scale)' (known: \(hub.scales.scales.keys.sorted().joined(separator: ", ")))")
                }
                try await hub.storage.setHallScale(hall: hall, scale: scale)
                await hub.storage.close()
                print("hall \(hall) rates on the \(scale) scale")
            } catch {
                Self.fail(error)
            }
        }
    }
}

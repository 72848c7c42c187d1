import ArgumentParser
import Foundation
import PingjiaCore
import PingjiaKiosk
import PingjiaRoster
import PingjiaStore

struct Roster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import and list the hall's staff (工号, 姓名, 窗口 …).",
        subcommands: [Import.self, List.self, Pull.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import staff from a CSV file (all rows or none).",
            discussion: """
                Columns (English or Chinese header): staff_id/工号, name/姓名, window/窗口 (required);
                window_name/窗口名称, photo/照片, matters/事项 (optional, 事项编码 separated by ';').
                Any bad row is reported as file:line and nothing of the file is applied.
                """
        )

        @Argument(help: "The roster CSV (UTF-8).")
        var file: String

        @Flag(help: "The file is the whole roster: remove staff who are not in it.")
        var replace = false

        @Flag(name: .customLong("dry-run"), help: "Only show what would change.")
        var dryRun = false

        @OptionGroup var state: StateOptions

        func run() async throws {
            do {
                let roster = try RosterCSV.load(file: file)
                let context = try state.open()
                defer { context.close() }
                guard let summary = try Roster.showAndApply(roster.staff, windows: roster.windows, replace: replace,
                                                            dryRun: dryRun, to: context.store) else { return }
                print("imported \(file): \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed; "
                      + "\(roster.windows.count) windows")
                if !roster.ignoredColumns.isEmpty {
                    print("ignored columns: \(roster.ignoredColumns.joined(separator: ", "))")
                }
                let photos = context.location.photosDirectory
                for person in roster.staff {
                    if let photo = person.photo, !FileManager.default.fileExists(atPath: (photos as NSString).appendingPathComponent(photo)) {
                        print("note: photo \(photo) of \(person.id) is not in \(photos) yet")
                    }
                }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the staff roster.")

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var state: StateOptions

        func run() async throws {
            do {
                let context = try state.open()
                defer { context.close() }
                let staff = try context.store.staff()
                if json {
                    try printJSON(RosterListing(windows: try context.store.windows(), staff: staff))
                    return
                }
                if staff.isEmpty {
                    print("no staff yet: import a roster with `pingjia roster import FILE.csv`")
                    return
                }
                print("工号\t姓名\t窗口\t照片\t事项")
                for person in staff {
                    print([person.id, person.name, person.windowId, person.photo ?? "-",
                           person.matters.isEmpty ? "-" : person.matters.joined(separator: ";")].joined(separator: "\t"))
                }
            } catch {
                Self.fail(error)
            }
        }
    }
}

struct RosterListing: Encodable {
    let windows: [ServiceWindow]
    let staff: [Staff]
}

extension Roster {
    /// Shows the change before applying it, so a wrong roster is noticed at a glance, then applies
    /// it all or nothing; nil after a dry run. `roster import` and `roster pull` both end here.
    static func showAndApply(_ staff: [Staff], windows: [ServiceWindow], replace: Bool, dryRun: Bool,
                             to store: KioskStore) throws -> RosterImportSummary? {
        let diff = RosterDiff(current: try store.staff(), incoming: staff, replace: replace)
        for line in diff.lines { print(line) }
        if diff.isEmpty { print("no change to the staff") }
        if dryRun {
            print("dry run: nothing applied")
            return nil
        }
        return try store.importRoster(staff: staff, windows: windows, replace: replace)
    }
}

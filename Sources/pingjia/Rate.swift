import ArgumentParser
import Foundation
import PingjiaCore
import PingjiaKiosk

struct Rate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record an installer's test rating, as if pressed on a keypad.",
        discussion: """
            The rating takes the same path as a key press (store, chain, later sync) and is flagged
            'test', so reports leave it out.
            """
    )

    @Option(help: "工号 of the staff member rated.")
    var staff: String

    @Option(help: "The level pressed: 1 is the best level of the scale.")
    var level: Int

    @Option(help: "The scale (default: the hall's, from the config).")
    var scale: String?

    @Option(name: .customLong("reason"), parsing: .upToNextOption, help: "Reason codes for a bad rating (see `pingjia scales`).")
    var reasons: [String] = []

    @Option(help: "A comment.")
    var comment: String?

    @OptionGroup var state: StateOptions

    func run() async throws {
        do {
            let context = try state.open()
            defer { context.close() }
            // --staff is the installer's argument, checked like --level: a typo is refused, not
            // stored (a press from a citizen at a keypad or screen is kept whatever its staff).
            guard try context.store.staff(id: staff) != nil else {
                throw ValidationError("no staff with 工号 '\(staff)' in the roster: import it with `pingjia roster import FILE.csv`")
            }
            let record = try await context.press(Press(windowId: nil, level: level, scale: scale, reasons: reasons, comment: comment,
                                                       channel: .keypad, staffId: staff, flags: [.test]), sessions: nil)
            // Printed only after append returned, i.e. after the commit reached the disk.
            let chosen = try context.scale(scale).level(level)
            print("committed seq \(record.seq): \(record.rating.staffId ?? "-") at window \(record.rating.windowId ?? "-"), "
                  + "level \(record.rating.level) \(chosen?.label ?? "") (code \(record.rating.code?.rawValue ?? 0)), "
                  + "flagged \(record.rating.flags.map(\.rawValue).sorted().joined(separator: ", "))")
            print("hash \(record.hash.hex)")
        } catch {
            Self.fail(error)
        }
    }
}

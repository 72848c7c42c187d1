import ArgumentParser
import Foundation
import Logging
import PingjiaInstaller
import PingjiaKiosk

struct SelfTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check the kiosk before leaving the hall: a ✓/✗ table; exit 1 on any ✗, with what to do.",
        discussion: """
            Store writable with a working fsync, disk space, the hub reachable with a sane clock, a test
            rating (flagged test) delivered to the hub and acknowledged, each paired keypad present and
            answering its feedback, and the display page served while pingjiad runs.
            """
    )

    @OptionGroup var profileOptions: ProfileOptions
    @OptionGroup var state: StateOptions

    func run() async throws {
        let context: KioskContext
        do { context = try state.open() } catch { Self.fail(error) }
        defer { context.close() }
        var logger = Logger(label: "pingjia")
        logger.logLevel = .critical
        let profiles = profileOptions.load(scales: context.scales, defaultScale: context.config.scale)
        let results = await SelfTest(kiosk: context, profiles: profiles, logger: logger).run()
        let terminal = Terminal.standardOutput
        let width = results.map(\.name.count).max() ?? 10
        for result in results {
            let mark = switch result.status {
            case .pass: terminal.green("✓")
            case .fail: terminal.red("✗")
            case .skip: "–"
            }
            print("\(mark) \(result.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(result.detail)")
            if let fix = result.fix, result.status == .fail {
                print("  \(String(repeating: " ", count: width))  → \(fix)")
            }
        }
        let failed = results.filter { $0.status == .fail }.count
        if failed > 0 {
            print(terminal.red("\(failed) check\(failed == 1 ? "" : "s") failed") + ": fix what the → lines say, then run `pingjia selftest` again")
            fflush(nil)
            Foundation.exit(1)
        }
        print(terminal.green("all checks passed"))
    }
}

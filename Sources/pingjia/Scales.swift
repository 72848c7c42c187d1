import ArgumentParser
import Foundation
import PingjiaConfig
import PingjiaCore

struct Scales: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the rating scales and check their files.",
        discussion: "Exit 1 if any scale file has a problem (each printed as file:line)."
    )

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var state: StateOptions

    func run() async throws {
        let catalog = ScaleCatalog.standard(for: state.location)
        let scales = catalog.scales.values.sorted { $0.name < $1.name }
        if json {
            try printJSON(scales)
        } else {
            for scale in scales {
                print("\(scale.name)\t\(scale.title)\t\(catalog.sources[scale.name] ?? "")")
                for level in scale.levels {
                    print("  \(level.value) \(level.label)  GB/T code \(level.code.rawValue)\(level.isBad ? " 差评" : "")")
                }
                if !scale.reasons.isEmpty {
                    print("  reasons: " + scale.reasons.map { "\($0.code)=\($0.label)" }.joined(separator: " "))
                }
            }
        }
        if !catalog.problems.isEmpty {
            Self.fail(Failure(catalog.problems.map(\.description).joined(separator: "\n")))
        }
    }
}

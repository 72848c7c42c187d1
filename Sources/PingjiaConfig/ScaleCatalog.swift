import Foundation
import PingjiaCore
import PingjiaTOML

/// The rating scales a kiosk knows: the shipped ones, overridden by a hall's own files of the
/// same name. A broken file is reported and skipped; the other scales still load.
public struct ScaleCatalog: Sendable {
    public private(set) var scales: [String: Scale] = [:]
    /// Where each scale was loaded from, for `pingjia` to show.
    public private(set) var sources: [String: String] = [:]
    public private(set) var problems: [TOMLProblem] = []

    public init() {}

    /// Loads every `*.toml` of `directories`, in order: a later directory wins on the same name.
    public init(directories: [String]) {
        for directory in directories { load(directory: directory) }
    }

    /// The catalog for a kiosk: the shipped scales, then `/etc/pingjia/scales`, then the state
    /// directory's `scales/`.
    public static func standard(for location: StateLocation) -> ScaleCatalog {
        var directories: [String] = []
        if let shipped = DataDirectories.shipped("scales") { directories.append(shipped) }
        directories.append("/etc/pingjia/scales")
        directories.append(location.scalesDirectory)
        var catalog = ScaleCatalog(directories: directories)
        if DataDirectories.shipped("scales") == nil {
            catalog.problems.append(TOMLProblem(file: "scales", line: nil, message:
                "the shipped scales were not found: install them to \(DataDirectories.systemDataDirectory)/scales or set PINGJIA_DATA_DIR"))
        }
        return catalog
    }

    public mutating func load(directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names.sorted() where name.hasSuffix(".toml") {
            let path = (directory as NSString).appendingPathComponent(name)
            let expected = String(name.dropLast(".toml".count))
            do {
                let scale = try Scale.parse(TOMLDocument(contentsOf: path), expectedName: expected)
                scales[scale.name] = scale
                sources[scale.name] = path
            } catch {
                problems.append(contentsOf: error.problems)
            }
        }
    }

    /// The scale called `name`, or an error that lists what there is and any file problems.
    public func scale(named name: String) throws(ScaleLookupError) -> Scale {
        if let scale = scales[name] { return scale }
        throw ScaleLookupError(name: name, known: scales.keys.sorted(), problems: problems)
    }
}

public struct ScaleLookupError: Error, Sendable, CustomStringConvertible {
    public let name: String
    public let known: [String]
    public let problems: [TOMLProblem]

    public var description: String {
        var text = "unknown rating scale '\(name)'"
        text += known.isEmpty ? ": no scale file could be loaded" : " (known: \(known.joined(separator: ", ")))"
        for problem in problems { text += "\n  \(problem)" }
        return text
    }
}

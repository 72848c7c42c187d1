import Foundation
import PingjiaCore
import Testing
@testable import PingjiaConfig

func scaleText(name: String, title: String = "测试", labels: [String] = ["好", "差"], extra: String = "") -> String {
    var text = "name = \"\(name)\"\ntitle = \"\(title)\"\n\(extra)"
    for (index, label) in labels.enumerated() {
        text += "[[levels]]\nvalue = \(index + 1)\nlabel = \"\(label)\"\ncode = \(index == labels.count - 1 ? 5 : 1)\n"
    }
    return text
}

@Suite("ScaleCatalog")
struct ScaleCatalogTests {
    static let shippedScales = repositoryRoot.appendingPathComponent("scales").path

    @Test func shippedDirectoryLoadsFiveAndThreeWithoutProblems() {
        let catalog = ScaleCatalog(directories: [Self.shippedScales])
        #expect(catalog.problems.isEmpty, "\(catalog.problems)")
        #expect(catalog.scales.keys.sorted() == ["five", "three"])
        #expect(catalog.sources["five"] == Self.shippedScales + "/five.toml")
    }

    @Test func laterDirectoryOverridesTheSameName() throws {
        try withTemporaryDirectory { dir in
            let hall = dir.appendingPathComponent("hall-scales")
            try write(scaleText(name: "five", title: "本厅五级", labels: ["很好", "好", "一般", "差", "很差"]),
                      to: hall.appendingPathComponent("five.toml"))
            let catalog = ScaleCatalog(directories: [Self.shippedScales, hall.path])
            #expect(catalog.problems.isEmpty)
            let five = try catalog.scale(named: "five")
            #expect(five.title == "本厅五级")
            #expect(five.levels.map(\.label) == ["很好", "好", "一般", "差", "很差"])
            #expect(catalog.sources["five"] == hall.appendingPathComponent("five.toml").path)
            #expect(try catalog.scale(named: "three").title == "三级评价", "the other shipped scale stays")

            // The order of directories is the order of precedence.
            let reversed = ScaleCatalog(directories: [hall.path, Self.shippedScales])
            #expect(try reversed.scale(named: "five").title == "五级评价")
        }
    }

    @Test func brokenFileIsReportedWithFileAndLineAndTheOthersStillLoad() throws {
        try withTemporaryDirectory { dir in
            try write(scaleText(name: "good"), to: dir.appendingPathComponent("good.toml"))
            try write(scaleText(name: "broken", extra: "colour = \"red\"\n"), to: dir.appendingPathComponent("broken.toml"))
            try write(scaleText(name: "zeta"), to: dir.appendingPathComponent("zeta.toml"))
            try write("not a scale", to: dir.appendingPathComponent("README.md"))
            let catalog = ScaleCatalog(directories: [dir.path])
            #expect(catalog.scales.keys.sorted() == ["good", "zeta"])
            let broken = dir.appendingPathComponent("broken.toml").path
            #expect(catalog.problems.map(\.description) == [
                "\(broken):3: unknown key 'colour' at the top level (known keys: levels, name, reasons, title)",
            ])
        }
    }

    @Test func brokenOverrideKeepsTheShippedScale() throws {
        // A typo in a hall's copy must not leave the kiosk without its scale.
        try withTemporaryDirectory { dir in
            try write(scaleText(name: "five", extra: "titel = \"x\"\n"), to: dir.appendingPathComponent("five.toml"))
            let catalog = ScaleCatalog(directories: [Self.shippedScales, dir.path])
            #expect(try catalog.scale(named: "five").title == "五级评价")
            #expect(catalog.problems.map(\.line) == [3])
        }
    }

    @Test func windowsNotepadFileWithBOMAndCRLF() throws {
        try withTemporaryDirectory { dir in
            let good = scaleText(name: "notepad").replacingOccurrences(of: "\n", with: "\r\n")
            try (Data([0xEF, 0xBB, 0xBF]) + Data(good.utf8)).write(to: dir.appendingPathComponent("notepad.toml"))
            let bad = scaleText(name: "typo", extra: "\r\ncolour = 1\r\n").replacingOccurrences(of: "\n", with: "\r\n")
                .replacingOccurrences(of: "\r\r", with: "\r")
            try (Data([0xEF, 0xBB, 0xBF]) + Data(bad.utf8)).write(to: dir.appendingPathComponent("typo.toml"))
            let catalog = ScaleCatalog(directories: [dir.path])
            #expect(try catalog.scale(named: "notepad").levels.count == 2)
            #expect(catalog.problems.map(\.description) == [
                "\(dir.appendingPathComponent("typo.toml").path):4: unknown key 'colour' at the top level (known keys: levels, name, reasons, title)",
            ])
        }
    }

    @Test func fileWhoseNameDiffersFromItsScaleIsRejected() throws {
        try withTemporaryDirectory { dir in
            try write(scaleText(name: "five"), to: dir.appendingPathComponent("five-copy.toml"))
            let catalog = ScaleCatalog(directories: [dir.path])
            #expect(catalog.scales.isEmpty)
            #expect(catalog.problems.map(\.line) == [1])
            #expect(catalog.problems.first?.message.contains("'five-copy.toml'") == true)
        }
    }

    @Test func missingDirectoryIsSkippedQuietly() {
        // /etc/pingjia/scales usually does not exist.
        let catalog = ScaleCatalog(directories: ["/nonexistent-\(UUID().uuidString)", Self.shippedScales])
        #expect(catalog.problems.isEmpty)
        #expect(catalog.scales.count == 2)
    }

    @Test func unknownScaleListsTheKnownOnesAndTheProblems() throws {
        try withTemporaryDirectory { dir in
            try write(scaleText(name: "seven", extra: "x = 1\n"), to: dir.appendingPathComponent("seven.toml"))
            let catalog = ScaleCatalog(directories: [Self.shippedScales, dir.path])
            let error = #expect(throws: ScaleLookupError.self) { try catalog.scale(named: "seven") }
            #expect(error?.known == ["five", "three"])
            let seven = dir.appendingPathComponent("seven.toml").path
            #expect(error?.description == """
                unknown rating scale 'seven' (known: five, three)
                  \(seven):3: unknown key 'x' at the top level (known keys: levels, name, reasons, title)
                """)
        }
    }

    @Test func unknownScaleWithNothingLoaded() {
        let error = #expect(throws: ScaleLookupError.self) { try ScaleCatalog().scale(named: "five") }
        #expect(error?.description == "unknown rating scale 'five': no scale file could be loaded")
    }
}

@Suite("DataDirectories")
struct DataDirectoriesTests {
    @Test func dataDirEnvironmentWins() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("scales"), withIntermediateDirectories: true)
            let found = DataDirectories.shipped("scales", environment: ["PINGJIA_DATA_DIR": dir.path],
                                                executable: repositoryRoot.appendingPathComponent(".build/debug/pingjia").path)
            #expect(found == dir.appendingPathComponent("scales").path)
        }
    }

    @Test func dataDirWithoutTheKindFindsNothingRatherThanSomethingElse() throws {
        // Whoever sets PINGJIA_DATA_DIR means those files; silently using others would hide a typo.
        try withTemporaryDirectory { dir in
            let found = DataDirectories.shipped("scales", environment: ["PINGJIA_DATA_DIR": dir.path],
                                                executable: repositoryRoot.appendingPathComponent(".build/debug/pingjia").path)
            #expect(found == nil)
        }
    }

    @Test func sourceCheckoutIsFoundFromAnExecutableInItsBuildFolder() {
        let executable = repositoryRoot.appendingPathComponent(".build/x86_64-unknown-linux-gnu/debug/pingjia").path
        let found = DataDirectories.shipped("scales", environment: [:], executable: executable)
        #expect(found == repositoryRoot.appendingPathComponent("scales").path)
    }

    @Test func walksUpToTheNearestPackageSwift() throws {
        try withTemporaryDirectory { dir in
            let repo = dir.appendingPathComponent("checkout")
            try write("// swift-tools-version: 6.1\n", to: repo.appendingPathComponent("Package.swift"))
            try write(scaleText(name: "five"), to: repo.appendingPathComponent("scales/five.toml"))
            let executable = repo.appendingPathComponent(".build/release/pingjiad").path
            let found = DataDirectories.shipped("scales", environment: ["PINGJIA_DATA_DIR": ""], executable: executable)
            #expect(found == repo.appendingPathComponent("scales").path)
        }
    }

    @Test func installedLayoutIsShareNextToBin() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("share/pingjia/scales"), withIntermediateDirectories: true)
            let found = DataDirectories.shipped("scales", environment: [:], executable: dir.appendingPathComponent("bin/pingjia").path)
            #expect(found == dir.appendingPathComponent("share/pingjia/scales").path)
        }
    }

    @Test func candidatesEndWithTheSystemDirectory() {
        let list = DataDirectories.candidates("scales", environment: [:], executable: "/opt/x/bin/pingjia")
        #expect(list.first == "/opt/x/share/pingjia/scales")
        #expect(list.last == "/usr/share/pingjia/scales")
    }
}

@Suite("DeviceIdentity")
struct DeviceIdentityTests {
    static func location(_ dir: URL) -> StateLocation {
        StateLocation(stateDirectory: dir.path, configFile: nil, environment: [:], isRoot: false)
    }

    @Test func createsAnIdOnceAndKeepsIt() throws {
        try withTemporaryDirectory { dir in
            let location = Self.location(dir)
            let id = try DeviceIdentity.load(location, create: true)
            #expect(id.wholeMatch(of: /pj-[0-9a-f]{12}/) != nil, "\(id)")
            #expect(Identifier.isValidID(id))
            let file = dir.appendingPathComponent("device-id")
            #expect(try String(contentsOf: file, encoding: .utf8) == id + "\n")
            #expect(try DeviceIdentity.load(location, create: true) == id)
            #expect(try DeviceIdentity.load(location, create: false) == id)
        }
    }

    @Test func twoKiosksGetDifferentIds() throws {
        try withTemporaryDirectory { dir in
            let a = try DeviceIdentity.load(Self.location(dir.appendingPathComponent("a").creatingDirectory()), create: true)
            let b = try DeviceIdentity.load(Self.location(dir.appendingPathComponent("b").creatingDirectory()), create: true)
            #expect(a != b)
        }
    }

    @Test func handWrittenIdIsTrimmed() throws {
        try withTemporaryDirectory { dir in
            try write("  hall3-kiosk-1\r\n\n", to: dir.appendingPathComponent("device-id"))
            #expect(try DeviceIdentity.load(Self.location(dir), create: false) == "hall3-kiosk-1")
        }
    }

    @Test(arguments: ["", "pj 0123", "设备1", String(repeating: "a", count: 65), "a/b"])
    func invalidIdFileIsRejectedWithItsName(_ content: String) throws {
        try withTemporaryDirectory { dir in
            let file = dir.appendingPathComponent("device-id")
            try write(content + "\n", to: file)
            let error = #expect(throws: IdentityError.self) { try DeviceIdentity.load(Self.location(dir), create: true) }
            #expect(error?.description.hasPrefix(file.path + ": '") == true, "\(String(describing: error))")
            #expect(error?.description.contains("is not a device id") == true)
            #expect(try String(contentsOf: file, encoding: .utf8) == content + "\n", "a bad file is never overwritten")
        }
    }

    @Test func missingIdWithoutCreateSaysToRunInit() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: IdentityError.self) { try DeviceIdentity.load(Self.location(dir), create: false) }
            let description = error?.description ?? ""
            #expect(description.contains(dir.appendingPathComponent("device-id").path))
            #expect(description.contains("pingjia init"))
            #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("device-id").path))
        }
    }

    @Test func unwritableStateDirectoryIsAnErrorNamingTheFile() throws {
        try withTemporaryDirectory { dir in
            let location = Self.location(dir.appendingPathComponent("does-not-exist"))
            let error = #expect(throws: IdentityError.self) { try DeviceIdentity.load(location, create: true) }
            #expect(error?.description.hasPrefix(location.path("device-id") + ": cannot write it") == true)
        }
    }
}

extension URL {
    func creatingDirectory() throws -> URL {
        try FileManager.default.createDirectory(at: self, withIntermediateDirectories: true)
        return self
    }
}

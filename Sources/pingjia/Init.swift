import ArgumentParser
import Foundation
import PingjiaConfig
import PingjiaKiosk

struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the state directory, config file, device id and store.",
        discussion: "Safe to run again: existing files are kept as they are."
    )

    @OptionGroup var state: StateOptions

    func run() async throws {
        restrictNewFiles()
        let location = state.location
        var configCreated = false
        do {
            try FileManager.default.createDirectory(atPath: location.stateDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o750])
            if !FileManager.default.fileExists(atPath: location.configFile) {
                try FileManager.default.createDirectory(atPath: (location.configFile as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try Data(KioskConfig.initialText.utf8).write(to: URL(fileURLWithPath: location.configFile), options: .withoutOverwriting)
                configCreated = true
            }
            try FileManager.default.createDirectory(atPath: location.photosDirectory, withIntermediateDirectories: true)
        } catch {
            Self.fail(Failure("cannot set up \(location.stateDirectory): \(error.localizedDescription)"))
        }
        let context: KioskContext
        do { context = try state.open(create: true) } catch { Self.fail(error) }
        defer { context.close() }
        print("state directory: \(location.stateDirectory)")
        print("config:          \(location.configFile)\(configCreated ? " (created)" : " (kept)")")
        print("device id:       \(context.deviceId)")
        print("store:           \(location.storeFile)")
        do {
            let scale = try context.scale()
            print("rating scale:    \(scale.name) (\(scale.title): \(scale.levels.map(\.label).joined(separator: " ")))")
            let staff = try context.store.staff()
            print("roster:          \(staff.count) staff" + (staff.isEmpty ? " (import one with `pingjia roster import FILE.csv`)" : ""))
        } catch {
            Self.fail(error)
        }
    }
}

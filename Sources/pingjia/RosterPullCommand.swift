import ArgumentParser
import Foundation
import PingjiaCore
import PingjiaRoster
import PingjiaSync
import PingjiaSyncProtocol

extension Roster {
    /// `pingjia roster pull`: the hall's roster from the hub (`pingjia-hub roster import`), shown
    /// as a change first and applied all or nothing, like `roster import`.
    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch the hall's roster from the hub (signed by it) and import it.",
            discussion: "Photos stay as they are on the kiosk (photos/ of the state directory).")

        @Flag(help: "The hub's roster is the whole roster: remove staff who are not in it.")
        var replace = false

        @Flag(name: .customLong("dry-run"), help: "Only show what would change.")
        var dryRun = false

        @OptionGroup var state: StateOptions

        func run() async throws {
            do {
                let context = try state.open()
                defer { context.close() }
                guard let enrollment = try Enrollment.load(context.location) else {
                    throw SyncError.notEnrolled(context.location.stateDirectory)
                }
                let key = try SigningKey.load(path: Enrollment.keyFile(context.location), create: false)
                guard let hubKey = PublicKey(base64: enrollment.hubPublicKey) else {
                    throw Failure("\(Enrollment.file(context.location)): the hub's public key is damaged; enroll again")
                }
                let transport = try HTTPHubTransport(baseURL: context.config.sync.hubURL ?? enrollment.hubURL,
                                                     caBundle: context.config.sync.caBundle, timeout: .seconds(30))
                let answer: RosterPull.Answer
                do {
                    answer = try await RosterPull.fetch(deviceId: context.deviceId, key: key, hubKey: hubKey, transport: transport,
                                                        currentStaff: try context.store.staff())
                } catch {
                    await transport.shutdown()
                    throw error
                }
                await transport.shutdown()
                guard case .roster(let pulled) = answer else {
                    if case .none(let problem) = answer { throw Failure("the hub did not give the roster: \(problem)") }
                    throw Failure("the hub answered 304 to a request without a digest; try again")
                }
                guard let summary = try Roster.showAndApply(pulled.staff, windows: pulled.windows, replace: replace,
                                                            dryRun: dryRun, to: context.store) else { return }
                print("pulled the roster of \(pulled.hall): \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed; "
                      + "\(pulled.windows.count) windows")
            } catch {
                Self.fail(error)
            }
        }
    }
}

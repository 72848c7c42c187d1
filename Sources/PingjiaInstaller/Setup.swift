import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaKiosk
import PingjiaRoster
import PingjiaSync
import PingjiaSyncProtocol

/// Everything `pingjia setup` asks, whether from prompts or flags.
public struct SetupAnswers: Sendable, Equatable {
    public var hall = ""
    public var deviceName = ""
    public var scale = "five"
    public var windows: [String] = []
    public var mode = WindowMode.armed
    /// nil: offline for now, enroll later.
    public var hubURL: String?
    public var code: String?
    public var rosterFile = ""

    public init() {}
}

/// A failed setup, already phrased as one line saying what to do; nothing was left behind.
public struct SetupError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Provisions a kiosk in one go: checks every answer (and the hub, and its clock) before writing
/// anything, then writes the config, creates the store, imports the roster and enrolls, in that
/// order: enrollment spends the one-time code, so it comes last, after everything that could
/// still fail locally. If a step fails, what this run created is removed again, so a kiosk is
/// never left half-configured.
public struct Setup: Sendable {
    public static let maximumClockOffset: TimeInterval = 60

    let location: StateLocation
    let answers: SetupAnswers
    let force: Bool
    let logger: Logger

    public init(location: StateLocation, answers: SetupAnswers, force: Bool, logger: Logger) {
        self.location = location
        self.answers = answers
        self.force = force
        self.logger = logger
    }

    /// What a validated run will write.
    struct Plan {
        var configText: String
        var roster: RosterFile
        var hubURL: String?
    }

    /// Lines to show the installer as the steps complete.
    public func run(progress: (String) -> Void = { _ in }) async throws(SetupError) -> [String] {
        let plan = try validate()
        if let hub = plan.hubURL {
            progress(try await checkHub(hub))
        }
        return try await apply(plan, progress: progress)
    }

    // MARK: checks, before anything is written

    func validate() throws(SetupError) -> Plan {
        let fm = FileManager.default
        if DaemonLock.isHeld(location) {
            throw SetupError("pingjiad is running on \(location.stateDirectory): stop it first (systemctl stop pingjiad)")
        }
        if fm.fileExists(atPath: location.storeFile) && !force {
            throw SetupError("a kiosk is already set up in \(location.stateDirectory) (its store exists): check it with `pingjia selftest`, or run setup with --force to write a new config over it (ratings are kept)")
        }
        let hall = answers.hall.trimmingCharacters(in: .whitespaces)
        let name = answers.deviceName.trimmingCharacters(in: .whitespaces)
        guard !hall.isEmpty else { throw SetupError("the hall is missing: give --hall, e.g. --hall 市民中心") }
        guard !name.isEmpty else { throw SetupError("the device name is missing: give --name, e.g. --name 3号窗口评价器") }
        let scales = ScaleCatalog.standard(for: location)
        do { _ = try scales.scale(named: answers.scale) } catch {
            throw SetupError("scale '\(answers.scale)': \(error); see `pingjia scales`")
        }
        guard !answers.windows.isEmpty else { throw SetupError("no windows given: give --windows, e.g. --windows 3,4") }
        for window in answers.windows where !Identifier.isValidID(window) {
            throw SetupError("window '\(window)' is not a window id (letters, digits, '.', '_', '-'), e.g. --windows 3,4")
        }
        var hubURL: String?
        if let url = answers.hubURL {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw SetupError("hub URL '\(url)' must be an http:// or https:// URL, e.g. https://hub.example.gov.cn:8780")
            }
            guard let code = answers.code, !code.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw SetupError("the enrollment code is missing: ask the hub operator for one (`pingjia-hub devices add`) and give --code, or use --offline")
            }
            hubURL = url.hasSuffix("/") ? String(url.dropLast()) : url
        }
        guard let data = fm.contents(atPath: answers.rosterFile) else {
            throw SetupError("cannot read the roster \(answers.rosterFile): check the path (a CSV with 工号,姓名,窗口)")
        }
        let roster: RosterFile
        switch RosterCSV.parse(data: data, file: answers.rosterFile) {
        case .success(let parsed): roster = parsed
        case .failure(let problems):
            let first = problems.problems.first.map(\.description) ?? problems.description
            let more = problems.problems.count > 1 ? " (and \(problems.problems.count - 1) more)" : ""
            throw SetupError("\(first)\(more): fix the roster and run setup again")
        }
        guard !roster.staff.isEmpty else { throw SetupError("\(answers.rosterFile) has no staff: add a row per person (工号,姓名,窗口)") }
        let windows = Set(answers.windows)
        if let stray = roster.staff.first(where: { !windows.contains($0.windowId) }) {
            throw SetupError("\(answers.rosterFile): \(stray.id) \(stray.name) works at window \(stray.windowId), which is not one of --windows \(answers.windows.joined(separator: ",")): add it or fix the roster")
        }
        let text = configText(hall: hall, name: name)
        do { _ = try KioskConfig.parse(text: text, file: location.configFile) } catch {
            throw SetupError("the config to write would be invalid: \(error.description)")
        }
        return Plan(configText: text, roster: roster, hubURL: hubURL)
    }

    /// The commented default config with this hall's answers filled in.
    func configText(hall: String, name: String) -> String {
        var text = KioskConfig.initialText
        text = text.replacingOccurrences(of: "# name = \"3号窗口评价器\"          # shown in the hub's device list",
                                         with: "name = \(ConfigFileEditor.quoted(name))   # shown in the hub's device list")
        text = text.replacingOccurrences(of: "# hall = \"某某市政务服务中心\"", with: "hall = \(ConfigFileEditor.quoted(hall))")
        // The installer's answers are written, so they win over the hub's configuration.
        text = text.replacingOccurrences(of: "\n# scale = \"five\"\n", with: "\nscale = \(ConfigFileEditor.quoted(answers.scale))\n")
        text = text.replacingOccurrences(of: "\n# mode = \"armed\"\n", with: "\nmode = \"\(answers.mode.rawValue)\"\n")
        text += "\n# The hall's windows (pingjia setup).\n"
        for window in answers.windows {
            text += "[[window]]\nid = \(ConfigFileEditor.quoted(window))\n\n"
        }
        return text
    }

    /// The hub answers, and this machine's clock agrees with it: a kiosk with a wrong clock signs
    /// ratings with wrong times, and TLS fails on far-off clocks.
    func checkHub(_ url: String) async throws(SetupError) -> String {
        let transport: HTTPHubTransport
        do { transport = try HTTPHubTransport(baseURL: url, timeout: .seconds(10)) } catch {
            throw SetupError("cannot set up a connection to \(url): \(error)")
        }
        let response: HubResponse
        do {
            response = try await transport.send(method: "GET", path: "/healthz", headers: [], body: nil)
        } catch {
            await transport.shutdown()
            throw SetupError("cannot reach the hub at \(url) (\(error)): check the URL and the network, or run setup with --offline and enroll later")
        }
        await transport.shutdown()
        guard response.status == 200 else {
            throw SetupError("\(url) is not answering as a Pingjia hub (HTTP \(response.status) on /healthz): check the URL with the hub's operator")
        }
        var clock = ""
        if let date = response.date.flatMap(HTTPDate.parse) {
            let offset = Date().timeIntervalSince(date)
            if abs(offset) > Self.maximumClockOffset {
                throw SetupError(String(format: "this machine's clock is %+.0f s off the hub's: set it (timedatectl set-ntp true, or date -s) and run setup again", offset))
            }
            clock = String(format: ", clock %+.0f s against it", offset)
        }
        // Checked before the enrollment code is spent: a kiosk enrolled with a hub that has no
        // public URL would print QR codes that lead nowhere.
        struct Health: Decodable { var qrURLTemplate: String? }
        guard let template = (try? JSONDecoder().decode(Health.self, from: Data(response.body)))?.qrURLTemplate else {
            throw SetupError("the hub at \(url) has no public URL for its phone page, so QR codes would lead nowhere: "
                             + "ask its operator to start it with `pingjia-hub serve --public-url https://…` (where phones reach it), then run setup again")
        }
        return "hub \(url) reachable\(clock), phone page \(template)"
    }

    // MARK: applying, with rollback

    /// Paths this run created, removed again on failure; a config it replaced is put back.
    final class Undo: @unchecked Sendable {
        var created: [String] = []
        var replacedConfig: Data?
        let configFile: String

        init(configFile: String) { self.configFile = configFile }

        func rollback() {
            for path in created.reversed() { try? FileManager.default.removeItem(atPath: path) }
            if let replacedConfig { try? AtomicFile.write(replacedConfig, to: configFile, mode: 0o640) }
        }
    }

    /// The roster's photos, from a `photos/` folder beside the CSV or the CSV's own folder, into
    /// the state directory's `photos/` (the display shows them from there).
    func copyPhotos(_ roster: RosterFile, undo: Undo) throws -> (Int, [String]) {
        let fm = FileManager.default
        let source = (answers.rosterFile as NSString).deletingLastPathComponent
        let folders = [(source as NSString).appendingPathComponent("photos"), source.isEmpty ? "." : source]
        var copied = 0, missing: [String] = []
        for photo in Set(roster.staff.compactMap(\.photo)).sorted() {
            let target = (location.photosDirectory as NSString).appendingPathComponent(photo)
            if fm.fileExists(atPath: target) { continue }
            guard let found = folders.map({ ($0 as NSString).appendingPathComponent(photo) }).first(where: { fm.fileExists(atPath: $0) }) else {
                missing.append(photo)
                continue
            }
            undo.created.append(target)
            try fm.copyItem(atPath: found, toPath: target)
            copied += 1
        }
        return (copied, missing)
    }

    /// One roster per hall, held by the hub (the phone page needs it, and every kiosk of the hall
    /// follows it): the roster given to setup is offered to the hub, which adopts it when the
    /// hall has none. When the hub holds another one, the hub's stays and this kiosk takes it
    /// now, saying what differs. After enrollment nothing here undoes the setup: a failure is a
    /// line saying what to run, and `pingjia qr sheet` refuses links the hub does not answer.
    func shareRoster(_ roster: RosterFile, kiosk: KioskContext, transport: HTTPHubTransport) async -> [String] {
        let key: SigningKey
        do { key = try SigningKey.load(path: Enrollment.keyFile(location), create: false) } catch {
            return ["WARNING the roster was not sent to the hub (\(error)); the hub's operator can import it: pingjia-hub roster import"]
        }
        var photos: [String: [UInt8]] = [:]
        for person in roster.staff {
            if let photo = person.photo, let data = FileManager.default.contents(atPath: (location.photosDirectory as NSString).appendingPathComponent(photo)) {
                photos[person.id] = [UInt8](data)
            }
        }
        do {
            switch try await RosterPull.offer(deviceId: kiosk.deviceId, key: key, transport: transport, staff: roster.staff,
                                              windows: roster.windows, photos: photos) {
            case .adopted: return ["roster sent to the hub: it is now the hall's roster (\(roster.staff.count) staff)"]
            case .same: return ["roster matches the hall's roster on the hub"]
            case .conflict(let problem):
                guard let hubKey = PublicKey(base64: (try Enrollment.load(location))?.hubPublicKey ?? "") else {
                    return ["WARNING \(problem)"]
                }
                let answer = try await RosterPull.fetch(deviceId: kiosk.deviceId, key: key, hubKey: hubKey, transport: transport,
                                                        currentStaff: try kiosk.store.staff())
                guard case .roster(let pulled) = answer else { return ["WARNING \(problem)"] }
                let summary = try kiosk.store.importRoster(staff: pulled.staff, windows: pulled.windows, replace: true)
                return ["WARNING the hub already holds another roster for \(pulled.hall), and the hub's roster is the hall's: "
                        + "this kiosk now uses it (\(summary.added) added, \(summary.updated) changed, \(summary.removed) removed against \(answers.rosterFile)). "
                        + "To change the hall's roster, import the new CSV on the hub: pingjia-hub roster import --hall \(pulled.hall) FILE.csv --replace"]
            }
        } catch {
            return ["WARNING the roster was not sent to the hub (\(error)): ask its operator to import it with pingjia-hub roster import, "
                    + "or pull the hub's with pingjia roster pull"]
        }
    }

    func apply(_ plan: Plan, progress: (String) -> Void) async throws(SetupError) -> [String] {
        let fm = FileManager.default
        let undo = Undo(configFile: location.configFile)
        var done: [String] = []
        func note(_ line: String) { done.append(line); progress(line) }
        do {
            if !fm.fileExists(atPath: location.stateDirectory) {
                try fm.createDirectory(atPath: location.stateDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
                undo.created.append(location.stateDirectory)
            }
            // Everything the kiosk makes in its state directory, so a failure removes exactly that.
            for path in [location.storeFile, location.storeFile + "-wal", location.storeFile + "-shm", location.storeFile + ".lock",
                         location.path("device-id"), location.photosDirectory, Enrollment.directory(location)]
            where !fm.fileExists(atPath: path) {
                undo.created.append(path)
            }
            if fm.fileExists(atPath: location.configFile) {
                undo.replacedConfig = fm.contents(atPath: location.configFile)
            } else {
                undo.created.append(location.configFile)
            }
            try AtomicFile.write(Data(plan.configText.utf8), to: location.configFile, mode: 0o640)
            note("config written: \(location.configFile)")
            try fm.createDirectory(atPath: location.photosDirectory, withIntermediateDirectories: true)

            let kiosk = try KioskContext(location: location, create: true, logger: logger)
            defer { kiosk.close() }
            note("store created: \(location.storeFile) (device \(kiosk.deviceId))")
            let summary = try kiosk.store.importRoster(staff: plan.roster.staff, windows: plan.roster.windows, replace: true)
            note("roster imported: \(summary.added + summary.updated) staff at \(Set(plan.roster.staff.map(\.windowId)).count) windows")
            let (copied, missing) = try copyPhotos(plan.roster, undo: undo)
            if copied > 0 || !missing.isEmpty {
                note("photos: \(copied) copied" + (missing.isEmpty ? "" : "; not found next to the roster: \(missing.joined(separator: ", ")) (copy them into \(location.photosDirectory) later)"))
            }

            if let hub = plan.hubURL, let code = answers.code {
                let transport = try HTTPHubTransport(baseURL: hub, timeout: .seconds(30))
                let enrollment: Enrollment
                do {
                    enrollment = try await Enrollment.enroll(location: location, deviceId: kiosk.deviceId, hubURL: hub,
                                                             code: code.trimmingCharacters(in: .whitespaces), transport: transport)
                } catch {
                    await transport.shutdown()
                    throw SetupError("\(error.description.replacingOccurrences(of: "the hub refused the enrollment: ", with: "the hub refused the enrollment code: ")); ask the hub operator for a new code (`pingjia-hub devices add`)")
                }
                note("enrolled with \(enrollment.hubURL) as \(enrollment.hall) / \(enrollment.name)")
                for line in await shareRoster(plan.roster, kiosk: kiosk, transport: transport) { note(line) }
                await transport.shutdown()
            } else {
                note("offline: enroll later with `pingjia enroll --hub URL --code CODE`")
            }
        } catch let error as SetupError {
            undo.rollback()
            throw error
        } catch {
            undo.rollback()
            throw SetupError("setup failed and was undone: \(error)")
        }
        return done
    }
}

import ArgumentParser
import Foundation
import Logging
import PingjiaConfig
import PingjiaInstaller

struct SetupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Set up this kiosk in one go: config, store, roster, enrollment with the hub.",
        discussion: """
            Asks for what is not given as a flag (in a terminal), or takes every answer as a flag:
            pingjia setup --non-interactive --hall 市民中心 --name 3号窗口评价器 --scale five --windows 3,4 \\
                          --mode armed --hub https://hub.example.gov.cn --code K7QM-3XHP --roster staff.csv
            --offline instead of --hub/--code: enroll later with `pingjia enroll`. Everything is checked
            first (roster rows, the hub and this machine's clock); if a step fails, what setup made is
            removed again. Then pair the keypads (`pingjia pair`) and run `pingjia selftest`.
            """
    )

    @Option(help: "The service hall (大厅), e.g. 市民中心.") var hall: String?
    @Option(help: "This device's name in the hub's list, e.g. 3号窗口评价器.") var name: String?
    @Option(help: "The rating scale: five or three (see `pingjia scales`).") var scale: String?
    @Option(help: "The windows this kiosk serves, comma-separated, e.g. 3,4.") var windows: String?
    @Option(help: "armed (a press counts in a session the staff opens) or open (every press counts).") var mode: String?
    @Option(help: "The hub's URL.") var hub: String?
    @Option(help: "The one-time enrollment code from the hub operator.") var code: String?
    @Flag(help: "No hub yet: set up offline, enroll later.") var offline = false
    @Option(help: "The roster CSV (工号,姓名,窗口 …).") var roster: String?
    @Flag(name: .customLong("non-interactive"), help: "Never ask: a missing answer is an error.") var nonInteractive = false
    @Flag(help: "Set up again over an existing kiosk (its ratings are kept).") var force = false
    @OptionGroup var state: StateOptions

    func validate() throws {
        if offline && (hub != nil || code != nil) { throw ValidationError("--offline and --hub/--code exclude each other") }
        if let mode, WindowMode(rawValue: mode) == nil { throw ValidationError("--mode must be armed or open") }
    }

    func run() async throws {
        restrictNewFiles()
        LoggingSystem.bootstrapOnce()
        var logger = Logger(label: "pingjia")
        logger.logLevel = .warning
        do {
            let answers = try collectAnswers()
            let setup = Setup(location: state.location, answers: answers, force: force, logger: logger)
            _ = try await setup.run { line in
                // A step that went on with a warning (the roster and the hub, after enrollment).
                print(line.hasPrefix("WARNING ") ? "! " + line.dropFirst("WARNING ".count) : "✓ \(line)")
                fflush(nil)
            }
            print("set up \(state.location.stateDirectory). Next: pair each keypad (`pingjia pair --window N`), print the QR stickers (`pingjia qr sheet --output stickers.pdf`), then `pingjia selftest`.")
        } catch {
            Self.fail(error)
        }
    }

    /// Flags first; what is missing is asked when a person is at a terminal, else it is an error.
    private func collectAnswers() throws -> SetupAnswers {
        let prompter = Prompter(enabled: !nonInteractive && isatty(STDIN_FILENO) != 0)
        var answers = SetupAnswers()
        answers.hall = try hall ?? prompter.ask("大厅 / hall", flag: "--hall")
        answers.deviceName = try name ?? prompter.ask("设备名称 / device name", flag: "--name")
        answers.scale = try scale ?? prompter.ask("评价等级 / scale (five, three)", flag: "--scale", default: "five")
        let windowText = try windows ?? prompter.ask("窗口 / windows, e.g. 3,4", flag: "--windows")
        answers.windows = windowText.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "，" }).map(String.init)
        let modeText = try mode ?? prompter.ask("模式 / mode (armed, open)", flag: "--mode", default: "armed")
        guard let parsedMode = WindowMode(rawValue: modeText) else { throw Failure("mode '\(modeText)' must be armed or open") }
        answers.mode = parsedMode
        if !offline {
            // No silent default here: a script that forgot --hub must not end up offline.
            guard hub != nil || prompter.enabled else {
                throw Failure("--hub (or --offline) is missing: give --hub URL --code CODE, or --offline to enroll later")
            }
            let url = try hub ?? prompter.ask("中心地址 / hub URL (empty: offline, enroll later)", flag: "--hub (or --offline)", default: "")
            if !url.isEmpty {
                answers.hubURL = url
                answers.code = try code ?? prompter.ask("注册码 / enrollment code", flag: "--code")
            }
        }
        answers.rosterFile = try roster ?? prompter.ask("花名册 / roster CSV file", flag: "--roster")
        return answers
    }
}

/// One question per line on a terminal; nothing is ever asked of a pipe.
struct Prompter {
    let enabled: Bool

    func ask(_ question: String, flag: String, default value: String? = nil) throws -> String {
        guard enabled else {
            if let value { return value }
            throw Failure("\(flag) is missing: give it, or run `pingjia setup` in a terminal to be asked")
        }
        let suffix = value.map { $0.isEmpty ? "" : " [\($0)]" } ?? ""
        FileHandle.standardOutput.write(Data("\(question)\(suffix): ".utf8))
        guard let line = readLine(strippingNewline: true) else {
            throw Failure("no answer for \(flag) (input ended): run again, or give \(flag)")
        }
        let answer = line.trimmingCharacters(in: .whitespaces)
        if answer.isEmpty, let value { return value }
        guard !answer.isEmpty else { throw Failure("no answer for \(flag): run again, or give \(flag)") }
        return answer
    }
}

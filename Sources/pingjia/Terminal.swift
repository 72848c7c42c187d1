import Foundation

/// What the installer's terminal can show: a progress bar and colours only on a TTY; into a pipe
/// or a log file, plain lines that read well in `journalctl` or a CI log.
struct Terminal: Sendable {
    let isTTY: Bool

    static let standardError = Terminal(isTTY: isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb")
    static let standardOutput = Terminal(isTTY: isatty(STDOUT_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb")

    func green(_ text: String) -> String { isTTY ? "\u{1B}[32m\(text)\u{1B}[0m" : text }
    func red(_ text: String) -> String { isTTY ? "\u{1B}[31m\(text)\u{1B}[0m" : text }
    func bold(_ text: String) -> String { isTTY ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
}

/// Progress of a counted job on stderr: a redrawn bar on a TTY, otherwise a plain line every
/// `plainEvery` items and at the end.
final class ProgressReporter: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let terminal: Terminal
    private let plainEvery: Int
    private var lastShown = -1

    init(total: Int, label: String, terminal: Terminal = .standardError, plainEvery: Int = 12) {
        self.total = max(total, 1)
        self.label = label
        self.terminal = terminal
        self.plainEvery = max(plainEvery, 1)
    }

    func update(_ done: Int) {
        if terminal.isTTY {
            let width = 30
            let filled = done * width / total
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            write("\r\(label) \(bar) \(done)/\(total)" + (done >= total ? "\n" : ""))
        } else if done >= total || done / plainEvery != lastShown / plainEvery {
            write("\(label): \(done)/\(total)\n")
        }
        lastShown = done
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

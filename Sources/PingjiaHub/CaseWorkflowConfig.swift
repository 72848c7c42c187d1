import Foundation
import PingjiaTOML

/// Deadlines of the 差评 case states in working days, and the calendar that says which days are
/// working days: Monday to Friday, minus statutory holidays, plus 调休 working weekends. Read
/// from `hub/workflow.toml`; dates are the halls' local dates (Asia/Shanghai, UTC+8 all year).
public struct CaseWorkflowConfig: Sendable, Equatable {
    /// Working days a case may stay in a state; a state without an entry has no deadline.
    public var deadlines: [CaseState: Int]
    /// Days off that would otherwise be working days (YYYY-MM-DD).
    public var holidays: Set<String>
    /// Weekend days that are working days (调休).
    public var workdays: Set<String>

    public init(deadlines: [CaseState: Int], holidays: Set<String>, workdays: Set<String>) {
        self.deadlines = deadlines
        self.holidays = holidays
        self.workdays = workdays
    }

    /// No deadlines: nothing is ever overdue (a hub started without a workflow file).
    public static let empty = CaseWorkflowConfig(deadlines: [:], holidays: [], workdays: [])

    /// The halls' time zone: China keeps UTC+8 all year.
    public static let timeZone = TimeZone(secondsFromGMT: 8 * 3600)!

    public static func load(path: String) throws(TOMLProblems) -> CaseWorkflowConfig {
        try parse(document: TOMLDocument(contentsOf: path))
    }

    public static func parse(text: String, file: String) throws(TOMLProblems) -> CaseWorkflowConfig {
        try parse(document: TOMLDocument(text: text, file: file))
    }

    static func parse(document: TOMLDocument) throws(TOMLProblems) -> CaseWorkflowConfig {
        let root = document.root
        var deadlines: [CaseState: Int] = [:]
        if let table = root.table("deadlines", required: true) {
            for state in CaseState.allCases where state != .closed {
                guard let days = table.int(state.rawValue, required: true) else { continue }
                if days < 0 || days > 365 {
                    table.problem(state.rawValue, "'\(state.rawValue)' must be 0-365 working days, not \(days)")
                } else {
                    deadlines[state] = days
                }
            }
        }
        var holidays: Set<String> = []
        var workdays: Set<String> = []
        if let calendar = root.table("calendar", required: true) {
            for (key, into) in [("holidays", true), ("workdays", false)] {
                for day in calendar.stringArray(key, required: true) ?? [] {
                    guard LocalDay(day) != nil else {
                        calendar.problem(key, "'\(day)' in \(key) is not a date YYYY-MM-DD")
                        continue
                    }
                    if into { holidays.insert(day) } else { workdays.insert(day) }
                }
            }
            for day in holidays.intersection(workdays).sorted() {
                calendar.problem("workdays", "\(day) is both a holiday and a working day: keep it in one list")
            }
        }
        try document.finish()
        return CaseWorkflowConfig(deadlines: deadlines, holidays: holidays, workdays: workdays)
    }

    public func isWorkingDay(_ day: LocalDay) -> Bool {
        if workdays.contains(day.text) { return true }
        if holidays.contains(day.text) { return false }
        return !day.isWeekend
    }

    /// The last local day on which a case that entered `state` at `since` is on time: the
    /// deadline's n-th working day after the day it entered (that day itself not counted).
    public func dueDay(state: CaseState, since: Date) -> LocalDay? {
        guard let days = deadlines[state] else { return nil }
        var day = LocalDay(since)
        var left = days
        while left > 0 {
            day = day.next
            if isWorkingDay(day) { left -= 1 }
        }
        return day
    }

    /// Overdue once the local date is past the due day.
    public func isOverdue(state: CaseState, since: Date, now: Date) -> Bool {
        guard let due = dueDay(state: state, since: since) else { return false }
        return LocalDay(now) > due
    }
}

/// A local date in the halls' time zone.
public struct LocalDay: Sendable, Comparable, Hashable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = CaseWorkflowConfig.timeZone
        return calendar
    }()

    public init(_ date: Date) {
        let parts = Self.calendar.dateComponents([.year, .month, .day], from: date)
        year = parts.year ?? 1970
        month = parts.month ?? 1
        day = parts.day ?? 1
    }

    /// Parses YYYY-MM-DD (a real calendar date).
    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard text.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              let date = Self.calendar.date(from: DateComponents(year: y, month: m, day: d, hour: 12)) else { return nil }
        self.init(date)
        guard year == y, month == m, day == d else { return nil }
    }

    var noon: Date {
        Self.calendar.date(from: DateComponents(year: year, month: month, day: day, hour: 12)) ?? Date(timeIntervalSince1970: 0)
    }

    public var next: LocalDay { LocalDay(noon.addingTimeInterval(24 * 3600)) }

    public var isWeekend: Bool {
        let weekday = Self.calendar.component(.weekday, from: noon)
        return weekday == 1 || weekday == 7
    }

    public var text: String {
        String(format: "%04d-%02d-%02d", year, month, day)
    }

    public var description: String { text }

    public static func < (a: LocalDay, b: LocalDay) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }
}

extension CaseWorkflowConfig {
    /// Where the shipped `hub/workflow.toml` is: `$PINGJIA_DATA_DIR/hub`, `<prefix>/share/pingjia/hub`
    /// beside the binary, `hub/` of the source checkout the binary was built in, or
    /// `/usr/share/pingjia/hub`; nil when none has it.
    public static func shippedFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let name = "hub/workflow.toml"
        var candidates: [String] = []
        if let root = environment["PINGJIA_DATA_DIR"], !root.isEmpty {
            candidates.append((root as NSString).appendingPathComponent(name))
        } else {
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
            var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
            candidates.append(directory.deletingLastPathComponent().appendingPathComponent("share/pingjia/" + name).path)
            while directory.path != "/" && !directory.path.isEmpty {
                if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                    candidates.append(directory.appendingPathComponent(name).path)
                    break
                }
                directory.deleteLastPathComponent()
            }
            candidates.append("/usr/share/pingjia/" + name)
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// When a rating happened, as the device saw it: wall clock for people and reports, monotonic
/// nanoseconds for ordering and burst detection (the wall clock may jump when NTP corrects it).
public struct DeviceTime: Sendable, Hashable {
    /// ISO 8601 with milliseconds and the UTC offset, e.g. `2026-11-24T10:44:00.123+08:00`.
    public let wallClock: String
    public let monotonicNs: UInt64

    public init(wallClock: String, monotonicNs: UInt64) {
        self.wallClock = wallClock
        self.monotonicNs = monotonicNs
    }

    /// Formats `date` in `timeZone` with an explicit offset (`+08:00`, never `Z`), so the hall's
    /// local time stays readable in every stored record.
    public static func format(_ date: Date, timeZone: TimeZone = .current) -> String {
        // Milliseconds by integer arithmetic: `Date` is a Double, so 10:44:00.123 comes back from
        // `dateComponents` as 122_999_9xx ns and truncating that wrote .122. Rounding to whole
        // microseconds first removes that residue; truncating to milliseconds after it keeps
        // 23:59:59.9996 in its own second (and day, and year).
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (seconds, millis) = floorDivide(floorDivide(micros, 1000).quotient, 1000)
        let whole = Date(timeIntervalSince1970: Double(seconds))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        let offset = timeZone.secondsFromGMT(for: whole)
        let sign = offset < 0 ? "-" : "+"
        func pad(_ value: Int?, _ width: Int) -> String {
            let text = String(value ?? 0)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T"
            + "\(pad(parts.hour, 2)):\(pad(parts.minute, 2)):\(pad(parts.second, 2)).\(pad(millis, 3))"
            + "\(sign)\(pad(abs(offset) / 3600, 2)):\(pad(abs(offset) % 3600 / 60, 2))"
    }

    /// Division rounding towards minus infinity, so instants before 1970 split into a second and a
    /// non-negative remainder.
    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int) {
        let remainder = (value % divisor + divisor) % divisor
        return ((value - remainder) / divisor, Int(remainder))
    }
}

/// Where ratings get their time; tests substitute a fixed clock.
public protocol DeviceClock: Sendable {
    func now() -> DeviceTime
}

public struct SystemDeviceClock: DeviceClock {
    public init() {}

    public func now() -> DeviceTime {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let monotonic = UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
        return DeviceTime(wallClock: DeviceTime.format(Date()), monotonicNs: monotonic)
    }
}

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

    /// Formats `date` in `timeZone` (nil: the system's local time) with an explicit offset
    /// (`+08:00`, never `Z`), so the hall's local time stays readable in every stored record.
    public static func format(_ date: Date, timeZone: TimeZone? = nil) -> String {
        // Milliseconds by integer arithmetic: `Date` is a Double, so 10:44:00.123 comes back from
        // `dateComponents` as 122_999_9xx ns and truncating that wrote .122. Rounding to whole
        // microseconds first removes that residue; truncating to milliseconds after it keeps
        // 23:59:59.9996 in its own second (and day, and year).
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let (seconds, millis) = floorDivide(floorDivide(micros, 1000).quotient, 1000)
        let fields: (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, offset: Int)
        if let timeZone {
            let whole = Date(timeIntervalSince1970: Double(seconds))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
            fields = (parts.year ?? 0, parts.month ?? 0, parts.day ?? 0, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0,
                      timeZone.secondsFromGMT(for: whole))
        } else {
            // The local time through the C library (TZ, /etc/localtime), as TimeZone.current
            // reads it, without Foundation's TimeZone: that loads ICU's zone data into the
            // daemon's memory for a value libc has at hand.
            var time = time_t(seconds)
            var parts = tm()
            localtime_r(&time, &parts)
            fields = (Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min),
                      Int(parts.tm_sec), Int(parts.tm_gmtoff))
        }
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let sign = fields.offset < 0 ? "-" : "+"
        return "\(pad(fields.year, 4))-\(pad(fields.month, 2))-\(pad(fields.day, 2))T"
            + "\(pad(fields.hour, 2)):\(pad(fields.minute, 2)):\(pad(fields.second, 2)).\(pad(millis, 3))"
            + "\(sign)\(pad(abs(fields.offset) / 3600, 2)):\(pad(abs(fields.offset) % 3600 / 60, 2))"
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
    /// The monotonic time alone, for rules about intervals (sessions, bursts): no wall clock text.
    func monotonicNs() -> UInt64
}

extension DeviceClock {
    public func monotonicNs() -> UInt64 { now().monotonicNs }
}

public struct SystemDeviceClock: DeviceClock {
    public init() {}

    public func now() -> DeviceTime {
        DeviceTime(wallClock: DeviceTime.format(Date()), monotonicNs: monotonicNs())
    }

    public func monotonicNs() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}

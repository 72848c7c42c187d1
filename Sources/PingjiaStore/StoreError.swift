import Foundation
import PingjiaCore

/// What went wrong with the kiosk store, and what to do about it.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case notInitialized(path: String)
    case damagedInUse(path: String, reason: String)
    case belongsToAnotherDevice(path: String, storeDevice: String, expected: String)
    case invalidRating(String)
    case invalidRoster(String)
    case database(operation: String, reason: String)
    /// A reasons follow-up that cannot be attached to the rating it names.
    case followUpRefused(FollowUpRefusal)
    /// The file system holding the store has no room left; the write was rolled back.
    case diskFull(path: String, operation: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            "cannot open the store \(path): \(reason). Check that the state directory exists and is writable by this user"
        case let .damagedInUse(path, reason):
            "the store \(path) is damaged (\(reason)), but another process (pingjiad?) has it open, so it was left in place: "
                + "stop that process (systemctl stop pingjiad), then start it again; the damaged file will be moved aside, not deleted"
        case let .notInitialized(path):
            "no Pingjia store at \(path): run `pingjia init` (with the same --state-dir) first"
        case let .belongsToAnotherDevice(path, storeDevice, expected):
            "the store \(path) belongs to device \(storeDevice), not \(expected): point --state-dir at this device's own state"
        case let .invalidRating(reason):
            "rating refused: \(reason)"
        case let .invalidRoster(reason):
            "roster refused: \(reason)"
        case let .database(operation, reason):
            "store error while \(operation): \(reason)"
        case let .followUpRefused(refusal):
            "reasons refused: \(refusal)"
        case let .diskFull(path, operation):
            "the disk holding \(path) is full: \(operation) failed and was rolled back (everything stored before is intact). "
                + "Free space there (`df -h \((path as NSString).deletingLastPathComponent)`); the store works again as soon as there is room"
        }
    }
}


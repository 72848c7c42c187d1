import Foundation
import PingjiaCore

/// This kiosk's device id, kept in `<state-dir>/device-id` apart from the store, so a fresh store
/// opened after a damaged one was moved aside still speaks for the same device.
public enum DeviceIdentity {
    public static let fileName = "device-id"

    /// Reads the id, or makes one (`pj-` and 12 random hex digits) when `create` is true.
    public static func load(_ location: StateLocation, create: Bool) throws(IdentityError) -> String {
        let file = location.path(fileName)
        if let data = FileManager.default.contents(atPath: file) {
            let id = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard Identifier.isValidID(id) else {
                throw .invalid(file: file, reason: "'\(id)' is not a device id (\(Identifier.idRule))")
            }
            return id
        }
        guard create else { throw .missing(file: file) }
        let id = "pj-" + (0..<6).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        do {
            try Data((id + "\n").utf8).write(to: URL(fileURLWithPath: file), options: .withoutOverwriting)
        } catch {
            throw .invalid(file: file, reason: "cannot write it: \(error.localizedDescription)")
        }
        return id
    }
}

public enum IdentityError: Error, Sendable, CustomStringConvertible {
    case missing(file: String)
    case invalid(file: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(file): "no device id at \(file): run `pingjia init` (with the same --state-dir) first"
        case let .invalid(file, reason): "\(file): \(reason)"
        }
    }
}

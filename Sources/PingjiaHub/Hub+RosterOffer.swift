import Foundation
import PingjiaCore
import PingjiaSyncProtocol

extension Hub {
    public enum RosterOfferOutcome: Sendable, Equatable {
        /// The hall had no roster: the offer is now the hall's roster.
        case adopted(RosterImportSummary)
        /// The hall's roster is the one offered.
        case same
        /// The hall holds another roster, which stays: what the offer would add (+), change (~), remove (-).
        case conflict(String)
    }

    /// A kiosk's setup offers the roster it was given (`RosterOffer`). One roster per hall, held
    /// here: adopted only where the hall has none, never replacing the one the hub holds.
    public func offerRoster(deviceId: String, _ offer: RosterOffer) async throws(HubError) -> RosterOfferOutcome {
        guard let device = try await storage.device(id: deviceId) else { throw .unknownDevice(deviceId) }
        var staff: [HubStaff] = []
        var photos: [String: StaffPhoto] = [:]
        for entry in offer.staff {
            guard Identifier.isValidID(entry.id), Identifier.isValidID(entry.windowId), !entry.name.isEmpty else {
                throw .invalid("roster entry '\(entry.id)' needs a valid 工号, a name and a window id")
            }
            staff.append(HubStaff(staff: Staff(id: entry.id, name: entry.name, windowId: entry.windowId, photo: nil, matters: entry.matters),
                                  windowName: entry.windowName))
        }
        guard !staff.isEmpty, Set(staff.map(\.staff.id)).count == staff.count else {
            throw .invalid("the offered roster is empty or names a 工号 twice")
        }
        for (id, text) in offer.photos {
            guard let bytes = Data(base64Encoded: text), let index = staff.firstIndex(where: { $0.staff.id == id }) else {
                throw .invalid("the photo of '\(id)' is not base64, or names nobody in the roster")
            }
            switch StaffPhoto.check([UInt8](bytes)) {
            case .success(let photo):
                photos[id] = photo
                staff[index].staff.photo = id
            case .failure(let problem): throw .invalid("the photo of '\(id)' \(problem)")
            }
        }
        let current = try await storage.hubRoster(hall: device.hall)
        guard !current.isEmpty else {
            let summary = try await storage.importHubRoster(hall: device.hall, staff: staff, photos: photos, replace: true, now: now())
            logger.notice("hall roster adopted from a kiosk's setup",
                          metadata: ["device": "\(deviceId)", "hall": "\(device.hall)", "staff": "\(staff.count)"])
            return .adopted(summary)
        }
        let held = Dictionary(uniqueKeysWithValues: Self.rosterEntries(current).map { ($0.id, $0) })
        let offered = Dictionary(uniqueKeysWithValues: offer.staff.map { ($0.id, $0) })
        var changes: [String] = []
        for id in offered.keys.sorted() {
            if held[id] == nil { changes.append("+\(id)") } else if held[id] != offered[id] { changes.append("~\(id)") }
        }
        for id in held.keys.sorted() where offered[id] == nil { changes.append("-\(id)") }
        return changes.isEmpty ? .same : .conflict(changes.joined(separator: " "))
    }
}

import Foundation
import PingjiaCore
import PingjiaSyncProtocol

/// `pingjia roster pull`: the hall's roster as the hub holds it, checked against the hub's key.
public enum RosterPull {
    /// The roster to import: staff (keeping the photo file names this kiosk already has) and windows.
    public static func fetch(deviceId: String, key: SigningKey, hubKey: PublicKey, transport: any HubTransport,
                             currentStaff: [Staff]) async throws(SyncError) -> (staff: [Staff], windows: [ServiceWindow], hall: String) {
        let path = "/v1/devices/\(deviceId)/roster"
        let response: HubResponse
        do {
            response = try await transport.send(method: "GET", path: path,
                                                headers: DeviceAuth.headers(method: "GET", target: path, key: key), body: nil)
        } catch {
            throw .enrollment("cannot reach the hub: \(error). Check the network and try again")
        }
        guard response.status == 200 else { throw .enrollment("the hub did not give the roster: " + describeProblem(response)) }
        guard let roster = try? JSONDecoder().decode(SignedRoster.self, from: Data(response.body)) else {
            throw .enrollment("the hub's answer is not a roster")
        }
        guard roster.isSigned(by: hubKey), roster.deviceId == deviceId else {
            throw .enrollment("the roster is not signed by the hub this kiosk enrolled with, or not for this device: nothing imported")
        }
        let photos = Dictionary(currentStaff.map { ($0.id, $0.photo) }, uniquingKeysWith: { first, _ in first })
        let staff = roster.staff.map { Staff(id: $0.id, name: $0.name, windowId: $0.windowId, photo: photos[$0.id] ?? nil, matters: $0.matters) }
        var windows: [String: String] = [:]
        for entry in roster.staff where windows[entry.windowId] == nil { windows[entry.windowId] = entry.windowName }
        return (staff, windows.keys.sorted().map { ServiceWindow(id: $0, name: windows[$0]!) }, roster.hall)
    }
}

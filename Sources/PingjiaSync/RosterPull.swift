import Foundation
import PingjiaCore
import PingjiaStore
import PingjiaSyncProtocol
import Synchronization

/// The hall's roster as the hub holds it (`pingjia-hub roster import`), checked against the hub's
/// key: fetched by `pingjia roster pull` and followed by `pingjiad` (`RosterFollower`).
public enum RosterPull {
    /// A roster to import: staff (keeping the photo file names this kiosk already has) and windows.
    public struct Pulled: Sendable {
        public let staff: [Staff]
        public let windows: [ServiceWindow]
        public let hall: String
        /// `SignedRoster.contentDigest`: ask with it next time and an unchanged roster costs a 304.
        public let digest: String
    }

    public enum Answer: Sendable {
        case roster(Pulled)
        /// The hub's roster is the one whose digest the request named.
        case unchanged
        /// The hub holds no roster for this device's hall (its problem, described).
        case none(String)
    }

    public static func fetch(deviceId: String, key: SigningKey, hubKey: PublicKey, transport: any HubTransport,
                             currentStaff: [Staff], holding digest: String? = nil) async throws(SyncError) -> Answer {
        let path = "/v1/devices/\(deviceId)/roster"
        var headers = DeviceAuth.headers(method: "GET", target: path, key: key)
        if let digest { headers.append(("If-None-Match", "\"\(digest)\"")) }
        let response: HubResponse
        do {
            response = try await transport.send(method: "GET", path: path, headers: headers, body: nil)
        } catch {
            throw .enrollment("cannot reach the hub: \(error). Check the network and try again")
        }
        switch response.status {
        case 200: break
        case 304 where digest != nil: return .unchanged
        // Only the hub's own "no roster" is an answer; another 404 (unknown device, a proxy) is not.
        case 404 where (try? JSONDecoder().decode(Problem.self, from: Data(response.body)))?.type == "no-roster":
            return .none(describeProblem(response))
        default: throw .enrollment("the hub did not give the roster: " + describeProblem(response))
        }
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
        return .roster(Pulled(staff: staff, windows: windows.keys.sorted().map { ServiceWindow(id: $0, name: windows[$0]!) },
                              hall: roster.hall, digest: roster.contentDigest))
    }
}

extension RosterPull {
    public enum OfferAnswer: Sendable, Equatable {
        /// The hall had no roster on the hub: this one is now the hall's.
        case adopted
        /// The hub's roster of the hall is this one.
        case same
        /// The hub holds another roster for the hall, which stays (the hub's problem, described).
        case conflict(String)
    }

    /// Offers the roster `pingjia setup` was given to the hub (`RosterOffer`), signed with the
    /// device key, photos (by 工号) included for the phone page.
    public static func offer(deviceId: String, key: SigningKey, transport: any HubTransport, staff: [Staff],
                             windows: [ServiceWindow], photos: [String: [UInt8]]) async throws(SyncError) -> OfferAnswer {
        let names = Dictionary(windows.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let entries = staff.map {
            SignedRoster.Entry(id: $0.id, name: $0.name, windowId: $0.windowId, windowName: names[$0.windowId] ?? $0.windowId, matters: $0.matters)
        }
        let offer = RosterOffer(staff: entries, photos: photos.mapValues { Data($0).base64EncodedString() })
        let body: [UInt8]
        do { body = Array(try JSONEncoder().encode(offer)) } catch { throw .enrollment("cannot encode the roster: \(error)") }
        let path = "/v1/devices/\(deviceId)/roster"
        let response: HubResponse
        do {
            response = try await transport.send(method: "POST", path: path,
                                                headers: DeviceAuth.headers(method: "POST", target: path, body: body, key: key), body: body)
        } catch {
            throw .enrollment("cannot reach the hub: \(error). Check the network and try again")
        }
        switch response.status {
        case 201: return .adopted
        case 200: return .same
        case 409: return .conflict(describeProblem(response))
        default: throw .enrollment("the hub did not take the roster: " + describeProblem(response))
        }
    }
}

/// Keeps a running kiosk's roster the hub's (`pingjiad`): asks with the digest it last applied,
/// so an unchanged roster costs one small request, and imports a new one whole (`replace`: once
/// the hub holds the hall's roster it is the roster, and staff who left are removed). Photos
/// stay the kiosk's. A hub without a roster for the hall leaves the local one alone.
public final class RosterFollower: Sendable {
    public enum Outcome: Sendable, Equatable {
        case applied(hall: String, added: Int, updated: Int, removed: Int)
        case unchanged
        case noRoster
        case failed(String)
    }

    let store: KioskStore
    let key: SigningKey
    let hubKey: PublicKey
    public let transport: any HubTransport
    private let digest = Mutex<String?>(nil)

    public init(store: KioskStore, key: SigningKey, hubKey: PublicKey, transport: any HubTransport) {
        self.store = store
        self.key = key
        self.hubKey = hubKey
        self.transport = transport
    }

    /// The digest of the hub's roster last applied (or found unchanged), for the heartbeat.
    public var appliedDigest: String? { digest.withLock { $0 } }

    public func step() async -> Outcome {
        let store = self.store
        let answer: RosterPull.Answer
        do {
            let current = try await runBlocking { try store.staff() }
            answer = try await RosterPull.fetch(deviceId: store.deviceId, key: key, hubKey: hubKey, transport: transport,
                                                currentStaff: current, holding: digest.withLock { $0 })
        } catch {
            return .failed("\(error)")
        }
        switch answer {
        case .unchanged:
            return .unchanged
        case .none:
            digest.withLock { $0 = nil }
            return .noRoster
        case .roster(let pulled):
            do {
                // After a restart the digest is forgotten: a roster already in place is not written again.
                let (staffNow, windowsNow) = try await runBlocking { (try store.staff(), try store.windows()) }
                if Set(staffNow) == Set(pulled.staff), Set(pulled.windows).isSubset(of: Set(windowsNow)) {
                    digest.withLock { $0 = pulled.digest }
                    return .unchanged
                }
                // One transaction, off the cooperative pool (it waits for fsync).
                let summary = try await runBlocking {
                    try store.importRoster(staff: pulled.staff, windows: pulled.windows, replace: true)
                }
                digest.withLock { $0 = pulled.digest }
                return .applied(hall: pulled.hall, added: summary.added, updated: summary.updated, removed: summary.removed)
            } catch {
                return .failed("the hub's roster was not imported: \(error)")
            }
        }
    }
}

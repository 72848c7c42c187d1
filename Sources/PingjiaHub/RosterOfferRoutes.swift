import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PingjiaSyncProtocol

/// `POST /v1/devices/{id}/roster`: a kiosk's setup offers its roster (`Hub.offerRoster`), signed
/// by the device key (`DeviceAuth`).
func registerRosterOfferRoute(on router: Router<BasicRequestContext>, hub: Hub, settings: HubSettings, limits: DeviceRequestLimits,
                              logger: Logger) {
    // Photos travel inline, once per setup: room for a hall's worth of them.
    let maxBody = 8 * settings.maxBodyBytes
    router.post("/v1/devices/:id/roster") { request, context -> Response in
        let deviceId = context.parameters.get("id") ?? ""
        let body: [UInt8]
        switch await signedDeviceBody(request, deviceId: deviceId, upTo: maxBody,
                                      tooLargeDetail: "at most \(maxBody / (1024 * 1024)) MiB: make the photos smaller",
                                      hub: hub, limits: limits) {
        case .success(let bytes): body = bytes
        case .failure(let refusal): return refusal.response
        }
        guard let offer = try? JSONDecoder().decode(RosterOffer.self, from: Data(body)) else {
            return problem(Problem(type: Problem.Kind.malformed, title: "Malformed roster", status: 400,
                                   detail: "the body must be {\"staff\": [{id, name, windowId, windowName, matters}], \"photos\": {}}"))
        }
        do {
            switch try await hub.offerRoster(deviceId: deviceId, offer) {
            case .adopted(let summary): return json(201, ["outcome": RosterOffer.adopted, "added": "\(summary.added)"])
            case .same: return json(200, ["outcome": RosterOffer.same])
            case .conflict(let changes):
                return problem(Problem(type: RosterOffer.conflict, title: "The hall holds another roster", status: 409,
                                       detail: "the hub holds a different roster for this hall (the offer would change: \(changes)); "
                                           + "the hub's roster stays the hall's"))
            }
        } catch {
            if case .invalid(let reason)? = error as? HubError {
                return problem(Problem(type: Problem.Kind.malformed, title: "Malformed roster", status: 400, detail: reason))
            }
            logger.error("roster offer failed", metadata: ["device": "\(deviceId)", "error": "\(error)"])
            return problem(Problem.storageUnavailable("the hub could not store the roster; retry later"))
        }
    }
}

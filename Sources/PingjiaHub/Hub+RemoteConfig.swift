import Foundation
import PingjiaConfig
import PingjiaSyncProtocol

extension Hub {
    /// Checks a configuration document with the kiosk's own strict parser (and that it holds only
    /// remotely settable sections), then stores it. `file` names it in problems (`file:line`).
    /// Returns the devices it reaches with their new versions (none: unchanged).
    public func setConfig(_ scope: ConfigScope, document: String, file: String) async throws(HubError) -> [(deviceId: String, version: Int)] {
        switch scope {
        case .hall(let hall): guard !hall.isEmpty else { throw .invalid("--hall must not be empty") }
        case .device(let id): guard !id.isEmpty else { throw .invalid("--device must not be empty") }
        }
        do {
            _ = try ConfigLayer.parseRemote(text: document, file: file)
        } catch {
            throw .invalid(error.description + "\nnothing was stored; fix the document and set it again")
        }
        return try await storage.setConfigDocument(scope, document: document, now: now())
    }

    /// A device's effective configuration as the hub sees it: hall layer under device layer.
    public func effectiveConfig(deviceId: String) async throws(HubError) -> (entry: RemoteConfigEntry, layer: ConfigLayer)? {
        guard let entry = try await storage.remoteConfig(deviceId: deviceId) else { return nil }
        do {
            let applied = AppliedRemoteConfig(version: entry.version, hallDocument: entry.hallDocument, deviceDocument: entry.deviceDocument,
                                              issuedAt: "", signature: "", appliedAt: "")
            return (entry, try applied.layer())
        } catch {
            throw .invalid("the stored documents of \(deviceId) no longer pass the validator: \(error.description)")
        }
    }

    /// The document a device fetches, signed with the hub's key; nil when none reaches it.
    public func signedConfig(deviceId: String) async throws(HubError) -> SignedConfig? {
        guard let entry = try await storage.remoteConfig(deviceId: deviceId) else { return nil }
        return SignedConfig(deviceId: deviceId, version: entry.version, hallDocument: entry.hallDocument,
                            deviceDocument: entry.deviceDocument, issuedAt: WireTime.format(now()), key: key)
    }

    /// The roster of a device's hall, signed with the hub's key; nil when the hall has none.
    public func signedRoster(deviceId: String) async throws(HubError) -> SignedRoster? {
        guard let device = try await storage.device(id: deviceId) else { throw .unknownDevice(deviceId) }
        let staff = try await storage.hubRoster(hall: device.hall)
        guard !staff.isEmpty else { return nil }
        return SignedRoster(deviceId: deviceId, hall: device.hall, staff: Self.rosterEntries(staff), issuedAt: WireTime.format(now()), key: key)
    }

    static func rosterEntries(_ staff: [HubStaff]) -> [SignedRoster.Entry] {
        staff.map {
            SignedRoster.Entry(id: $0.staff.id, name: $0.staff.name, windowId: $0.staff.windowId, windowName: $0.windowName,
                               matters: $0.staff.matters)
        }
    }

    /// `config status` with each device's `roster` state, from its latest heartbeat.
    public static func remoteConfigStatus(_ storage: any HubStorage) async throws(HubError) -> [RemoteConfigStatus] {
        var statuses = try await storage.remoteConfigStatus()
        var rosters: [String: [SignedRoster.Entry]] = [:]
        for index in statuses.indices {
            let status = statuses[index]
            if rosters[status.hall] == nil { rosters[status.hall] = Self.rosterEntries(try await storage.hubRoster(hall: status.hall)) }
            let entries = rosters[status.hall] ?? []
            guard !entries.isEmpty else {
                statuses[index].roster = "none"
                continue
            }
            guard let applied = try await storage.latestHeartbeat(deviceId: status.deviceId)?.heartbeat.appliedRosterDigest else {
                statuses[index].roster = "unknown"
                continue
            }
            let current = SignedRoster.contentDigest(deviceId: status.deviceId, hall: status.hall, staff: entries)
            statuses[index].roster = applied == current ? "current" : "behind"
        }
        return statuses
    }

    /// Records what a device did with a version; a refusal is logged at warning, with its reason.
    public func recordConfigResult(deviceId: String, _ result: ConfigResult) async throws(HubError) {
        guard result.version >= 1 else { throw .invalid("version must be 1 or more") }
        let reason = result.applied ? nil : String((result.reason ?? "no reason given").prefix(4000))
        try await storage.recordConfigResult(deviceId: deviceId, version: result.version, refusal: reason,
                                             overrides: Array(result.overrides.prefix(200)), at: now())
        if let reason {
            logger.warning("device refused its configuration", metadata: ["device": "\(deviceId)", "version": "\(result.version)", "reason": "\(reason)"])
        } else {
            logger.info("device applied its configuration", metadata: ["device": "\(deviceId)", "version": "\(result.version)"])
        }
    }

    /// Keeps the hub's record of what the device runs in step with its heartbeat (a lost
    /// `config/result` request is made good here); a failure only costs the record.
    func noteHeartbeatConfig(deviceId: String, _ heartbeat: Heartbeat, at: Date) async {
        guard heartbeat.appliedConfigVersion != nil || heartbeat.configRefused != nil else { return }
        do {
            try await storage.recordHeartbeatConfig(deviceId: deviceId, applied: heartbeat.appliedConfigVersion,
                                                    refused: heartbeat.configRefused.map { ($0.version, String($0.reason.prefix(4000))) }, at: at)
        } catch {
            logger.warning("the heartbeat's configuration versions were not recorded", metadata: ["device": "\(deviceId)", "error": "\(error)"])
        }
    }

    /// Nil when the request carries a valid signature of the active device `deviceId`.
    func deviceRequestProblem(deviceId: String, method: String, target: String, body: [UInt8],
                              date: String?, authorization: String?) async -> Problem? {
        let deviceKey: PublicKey
        switch await activeDeviceKey(deviceId) {
        case .success(let key): deviceKey = key
        case .failure(let problem): return problem
        }
        if let reason = DeviceAuth.check(method: method, target: target, body: body, date: date, authorization: authorization,
                                         deviceKey: deviceKey, now: now()) {
            return Problem(type: Problem.Kind.badSignature, title: "Not signed by the device", status: 401, detail: reason)
        }
        return nil
    }
}

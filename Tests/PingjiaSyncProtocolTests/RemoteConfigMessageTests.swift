import Foundation
import PingjiaSyncProtocol
import Testing

/// The hub's signed configuration and roster, and the device's signed requests: any change of a
/// signed field, another key, or another request target breaks the signature.
@Suite struct RemoteConfigMessageTests {
    @Test func aConfigDocumentVerifiesOnlyAsSigned() throws {
        let hub = SigningKey()
        let signed = SignedConfig(deviceId: "pj-000000000001", version: 3, hallDocument: "[rating]\nscale = \"three\"\n",
                                  deviceDocument: nil, issuedAt: "2026-11-29T15:00:00Z", key: hub)
        #expect(signed.isSigned(by: hub.publicKey))
        #expect(!signed.isSigned(by: SigningKey().publicKey))
        let decoded = try JSONDecoder().decode(SignedConfig.self, from: try JSONEncoder().encode(signed))
        #expect(decoded.isSigned(by: hub.publicKey))
        var json = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(signed)) as? [String: Any])
        for (field, value) in [("version", 4 as Any), ("hallDocument", "[rating]\nscale = \"five\"\n"), ("deviceDocument", ""),
                               ("deviceId", "pj-000000000002"), ("issuedAt", "2026-11-29T15:00:01Z")] {
            var changed = json
            changed[field] = value
            let altered = try JSONDecoder().decode(SignedConfig.self, from: try JSONSerialization.data(withJSONObject: changed))
            #expect(!altered.isSigned(by: hub.publicKey), "changing \(field) kept the signature valid")
        }
        // A present empty document is not an absent one.
        json["hallDocument"] = nil
        let dropped = try JSONDecoder().decode(SignedConfig.self, from: try JSONSerialization.data(withJSONObject: json))
        #expect(!dropped.isSigned(by: hub.publicKey))
    }

    @Test func aRosterVerifiesOnlyAsSigned() {
        let hub = SigningKey()
        let staff = [SignedRoster.Entry(id: "A1023", name: "张三", windowId: "3", windowName: "综合受理3号窗口", matters: ["M1", "M2"])]
        let signed = SignedRoster(deviceId: "pj-000000000001", hall: "市民中心", staff: staff, issuedAt: "2026-11-29T15:00:00Z", key: hub)
        #expect(signed.isSigned(by: hub.publicKey))
        #expect(!signed.isSigned(by: SigningKey().publicKey))
        let renamed = [SignedRoster.Entry(id: "A1023", name: "李四", windowId: "3", windowName: "综合受理3号窗口", matters: ["M1", "M2"])]
        #expect(!SignedRoster.signatureInput(deviceId: signed.deviceId, hall: signed.hall, staff: renamed, issuedAt: signed.issuedAt)
            .elementsEqual(SignedRoster.signatureInput(deviceId: signed.deviceId, hall: signed.hall, staff: staff, issuedAt: signed.issuedAt)))
        // Moving a matter between fields changes the bytes (every field is length-prefixed).
        let shifted = [SignedRoster.Entry(id: "A1023", name: "张三", windowId: "3", windowName: "综合受理3号窗口", matters: ["M1M2"])]
        #expect(!SignedRoster.signatureInput(deviceId: signed.deviceId, hall: signed.hall, staff: shifted, issuedAt: signed.issuedAt)
            .elementsEqual(SignedRoster.signatureInput(deviceId: signed.deviceId, hall: signed.hall, staff: staff, issuedAt: signed.issuedAt)))
    }

    @Test func aDeviceRequestIsCheckedForKeyTargetBodyAndDate() {
        let device = SigningKey()
        let now = Date()
        let body = Array(#"{"version":2,"applied":true,"overrides":[]}"#.utf8)
        let headers = Dictionary(uniqueKeysWithValues: DeviceAuth.headers(method: "POST", target: "/v1/devices/pj-1/config/result",
                                                                          body: body, key: device, now: now))
        func check(target: String = "/v1/devices/pj-1/config/result", _ body: [UInt8], key: PublicKey, at: Date) -> String? {
            DeviceAuth.check(method: "POST", target: target, body: body, date: headers[PullAuth.dateHeader],
                             authorization: headers["Authorization"], deviceKey: key, now: at)
        }
        #expect(check(body, key: device.publicKey, at: now) == nil)
        #expect(check(body, key: SigningKey().publicKey, at: now) != nil)
        #expect(check(target: "/v1/devices/pj-2/config/result", body, key: device.publicKey, at: now) != nil)
        #expect(check(body + [0x20], key: device.publicKey, at: now) != nil)
        #expect(check(body, key: device.publicKey, at: now.addingTimeInterval(301))?.contains("300 s") == true)
    }
}

import Foundation
import Logging
import PingjiaConfig
import PingjiaSyncProtocol

/// What enrollment leaves on the device, in `<state-dir>/sync/`: `device.key` (the device's
/// Ed25519 private key, mode 0600) and `enrollment.json` (the hub, its public key, this slot).
public struct Enrollment: Codable, Sendable, Equatable {
    public var hubURL: String
    public var deviceId: String
    public var hubPublicKey: String
    public var hall: String
    public var name: String
    public var enrolledAt: String
    /// The hub's phone page link (`pingjia-hub serve --public-url`), the default of `[qr]
    /// url_template` (`HubQRDefault` reads it); nil from a hub without a public URL.
    public var qrURLTemplate: String?

    public static func directory(_ location: StateLocation) -> String { location.path("sync") }
    public static func keyFile(_ location: StateLocation) -> String { location.path("sync/device.key") }
    public static func file(_ location: StateLocation) -> String { location.path("sync/enrollment.json") }

    /// The enrollment of this device, or nil if it has not been enrolled.
    public static func load(_ location: StateLocation) throws(SyncError) -> Enrollment? {
        guard let data = FileManager.default.contents(atPath: file(location)) else { return nil }
        do {
            return try JSONDecoder().decode(Enrollment.self, from: data)
        } catch {
            throw .enrollment("\(file(location)) is damaged (\(error)): enroll again with `pingjia enroll --hub URL --code CODE`")
        }
    }

    /// Enrolls with the hub at `hubURL` using the operator's one-time `code`: makes (or reuses)
    /// this device's key, registers its public key, and keeps the hub's public key for receipts.
    public static func enroll(location: StateLocation, deviceId: String, hubURL: String, code: String,
                              transport: any HubTransport) async throws(SyncError) -> Enrollment {
        if let existing = try load(location) {
            throw .enrollment("this device is already enrolled with \(existing.hubURL) (\(existing.hall) / \(existing.name)); "
                              + "to enroll again, revoke it on the hub and remove \(directory(location))")
        }
        let key: SigningKey
        do { key = try SigningKey.load(path: keyFile(location), create: true) } catch { throw .enrollment(error.description) }
        let request = EnrollRequest(code: code, deviceId: deviceId, publicKey: key.publicKey.base64)
        let response: HubResponse
        do {
            response = try await transport.send(method: "POST", path: "/v1/enroll", headers: [],
                                                body: Array(try JSONEncoder().encode(request)))
        } catch {
            throw .enrollment("cannot reach the hub at \(hubURL): \(error). Check the URL and the network, then try again")
        }
        guard response.status == 200 else {
            throw .enrollment("the hub refused the enrollment: " + describeProblem(response))
        }
        guard let answer = try? JSONDecoder().decode(EnrollResponse.self, from: Data(response.body)),
              PublicKey(base64: answer.hubPublicKey) != nil, answer.deviceId == deviceId else {
            throw .enrollment("the hub's answer is not an enrollment response; is \(hubURL) a Pingjia hub?")
        }
        let enrollment = Enrollment(hubURL: hubURL, deviceId: deviceId, hubPublicKey: answer.hubPublicKey,
                                    hall: answer.hall, name: answer.name, enrolledAt: WireTime.format(Date()),
                                    qrURLTemplate: answer.qrURLTemplate)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try SigningKey.write(try encoder.encode(enrollment), to: file(location), mode: 0o640)
        } catch {
            throw .enrollment("enrolled, but cannot save \(file(location)): \(error)")
        }
        return enrollment
    }
}

public enum SyncError: Error, Sendable, CustomStringConvertible {
    case enrollment(String)
    case notEnrolled(String)
    case store(String)

    public var description: String {
        switch self {
        case let .enrollment(text), let .store(text): text
        case let .notEnrolled(stateDirectory):
            "this device is not enrolled with a hub (no \(stateDirectory)/sync/enrollment.json): "
                + "ask the hub operator for a code (`pingjia-hub devices add`), then run `pingjia enroll --hub URL --code CODE`"
        }
    }
}

/// A hub error body as one readable line.
func describeProblem(_ response: HubResponse) -> String {
    if let problem = try? JSONDecoder().decode(Problem.self, from: Data(response.body)) {
        return "\(problem.status) \(problem.type): \(problem.detail)"
    }
    let text = String(decoding: response.body.prefix(200), as: UTF8.self)
    return "HTTP \(response.status)" + (text.isEmpty ? "" : ": \(text)")
}

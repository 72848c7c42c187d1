import Foundation
import NIOSSL
import PingjiaSync
import Testing

/// HTTPS with `ca_bundle`: the kiosk trusts exactly the certificates in the bundle, so a hub
/// certificate in it is pinned, and any other certificate is refused (and nothing is acknowledged).
@Suite struct TLSTests {
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/tls").path

    static func front(of hub: HubHarness) async throws -> FaultProxy {
        let tls = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(fixtures + "/hub-cert.pem").map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: fixtures + "/hub-key.pem", format: .pem))))
        let proxy = FaultProxy(upstreamPort: hub.port, tls: tls)
        try await proxy.start()
        return proxy
    }

    @Test func pinnedHubCertificateIsTrustedAndOthersAreRefused() async throws {
        try await withTempDirectory { dir in
            let (hub, device) = try await startHubWithEnrolledDevice(dir)
            defer { device.close() }
            try await device.rate(12)
            let proxy = try await Self.front(of: hub)
            let url = "https://127.0.0.1:\(proxy.port)"

            // The system's CAs do not know the hub's certificate; a bundle with another one
            // does not match it either. The kiosk keeps retrying and acknowledges nothing.
            for bundle in [nil, Self.fixtures + "/other-cert.pem"] {
                let result = await drain(try device.pusher(baseURL: url, caBundle: bundle), within: .milliseconds(500))
                guard case .retry = result else { Issue.record("expected a TLS failure with \(bundle ?? "system CAs"), got \(result)"); continue }
                #expect(try device.store.syncState().ackedThroughSeq == 0)
            }
            #expect(try await hub.storage.chain(deviceId: device.deviceId).isEmpty)

            let pinned = await drain(try device.pusher(baseURL: url, caBundle: Self.fixtures + "/hub-cert.pem"))
            #expect(pinned == .idle)
            try await expectExactlyOnce(device, hub)
            await proxy.stop()
            await hub.stop()
        }
    }
}

import Foundation
import HummingbirdTesting
import PingjiaSyncProtocol
import PingjiaWeb
import Testing

/// The window display's QR code while a transaction is open: the staff link plus a token the
/// device signed for that transaction, the same for the whole session, and the plain staff link
/// again once the session ends.
@Suite struct PhoneTokenDisplayTests {
    /// The QR code of `/display/{window}`, rendered and decoded as a phone camera would read it.
    static func scannedURL(_ client: any TestClientProtocol, window: String, dir: URL) async throws -> String {
        let html = try await client.get("/display/\(window)").text
        let start = try #require(html.range(of: "<svg"))
        let end = try #require(html.range(of: "</svg>"))
        let svg = String(html[start.lowerBound..<end.upperBound])
        let side = try #require(svg.firstMatch(of: /viewBox="0 0 (\d+) \d+"/).flatMap { Int($0.1) })
        let name = UUID().uuidString
        try Data(svg.replacingOccurrences(of: "style=\"width:\(side * 8)px;height:\(side * 8)px\"",
                                          with: "width=\"\(side * 4)\" height=\"\(side * 4)\"").utf8)
            .write(to: dir.appendingPathComponent("\(name).svg"))
        let rendered = try run(try tool("rsvg-convert", package: "librsvg2-bin"),
                               ["-o", dir.appendingPathComponent("\(name).png").path, dir.appendingPathComponent("\(name).svg").path])
        #expect(rendered.status == 0)
        let decoded = try run(try tool("zbarimg", package: "zbar-tools"),
                              ["--raw", "-q", "--nodbus", "-Sbinary", dir.appendingPathComponent("\(name).png").path])
        #expect(decoded.status == 0, "no QR code decoded")
        return String(decoding: decoded.out, as: UTF8.self)
    }

    @Test func anArmedSessionShowsItsSignedTokenUntilItEnds() async throws {
        let kiosk = try WebKiosk(config: "[qr]\nurl_template = \"https://pj.example/r/{deviceId}/{staffId}\"\ntoken_minutes = 5\n")
        let key = SigningKey()
        let deviceId = kiosk.kiosk.deviceId
        let tokens = PhoneTokenIssuer(key: key, deviceId: deviceId, lifetimeMinutes: { kiosk.kiosk.config.qrTokenMinutes })
        let dir = kiosk.dir
        try await kiosk.withServer(phoneTokens: tokens) { client in
            let sticker = "https://pj.example/r/\(deviceId)/A1024"
            #expect(try await Self.scannedURL(client, window: "W04", dir: dir) == sticker)
            let armed = try await client.post("/api/v1/windows/W04/session",
                                              json: #"{"staffId":"A1024","matterCode":"11000000000000000X4440111700001","caseNo":"2026-0042"}"#)
            #expect(armed.status == .created)
            let url = try await Self.scannedURL(client, window: "W04", dir: dir)
            #expect(url.hasPrefix(sticker + "?t="), "\(url)")
            let text = String(url.dropFirst((sticker + "?t=").count))
            let token = try RatingToken.verify(text, deviceKey: key.publicKey, now: Date()).get()
            #expect(token.deviceId == deviceId && token.windowId == "W04" && token.staffId == "A1024")
            #expect(token.matterCode == "11000000000000000X4440111700001" && token.caseNo == "2026-0042")
            #expect(token.expiresAt - token.issuedAt == 300)
            #expect(try await Self.scannedURL(client, window: "W04", dir: dir) == url, "one token per session")
            // Another window is not armed: its sticker link.
            #expect(try await Self.scannedURL(client, window: "W03", dir: dir) == "https://pj.example/r/\(deviceId)/A1023")
            // Rated at the window: the session is over, and so is its code.
            let rated = try await client.post("/api/v1/windows/W04/rating", json: #"{"level":1}"#)
            #expect(rated.status == .created || rated.status == .ok)
            #expect(try await Self.scannedURL(client, window: "W04", dir: dir) == sticker)
        }
    }
}

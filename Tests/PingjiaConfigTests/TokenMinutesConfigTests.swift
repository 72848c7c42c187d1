import Foundation
import PingjiaConfig
import PingjiaTOML
import Testing

/// `[qr] token_minutes` (how long a transaction's QR code is valid): checked like every key, and
/// settable by the hub like the rest of `[qr]`, the local file winning.
@Suite struct TokenMinutesConfigTests {
    @Test func theLocalFileAndAHubDocumentSetItTheLocalFileWinning() throws {
        #expect(KioskConfig().qrTokenMinutes == 10)
        #expect(try KioskConfig.parse(text: "[qr]\ntoken_minutes = 3\n", file: "pingjia.toml").qrTokenMinutes == 3)
        for bad in [0, 1441] {
            let error = #expect(throws: TOMLProblems.self) { try KioskConfig.parse(text: "[qr]\ntoken_minutes = \(bad)\n", file: "pingjia.toml") }
            #expect(error?.problems.first?.description == "pingjia.toml:2: token_minutes \(bad) must be 1-1440 (minutes a transaction's QR code may be used)")
        }
        let remote = try ConfigLayer.parseRemote(text: "[qr]\ntoken_minutes = 5\n", file: "hall.toml")
        #expect(remote.qrTokenMinutes == 5 && remote.keyPaths == ["qr.token_minutes"])
        #expect(try ConfigLayer.parseRemote(text: remote.toml(), file: "again.toml") == remote)
        var config = KioskConfig()
        remote.apply(to: &config)
        #expect(config.qrTokenMinutes == 5)
        let local = try ConfigLayer.written(in: "[qr]\ntoken_minutes = 2\n", file: "pingjia.toml")
        #expect(remote.overlaid(by: local).qrTokenMinutes == 2)
        #expect(remote.overriddenKeys(by: local) == ["qr.token_minutes"])
    }
}

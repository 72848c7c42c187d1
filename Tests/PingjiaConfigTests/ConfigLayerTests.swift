import Foundation
import PingjiaCore
import PingjiaTOML
import Testing
@testable import PingjiaConfig

/// The hub's configuration documents and the local file as layers: the same strict parser as
/// pingjia.toml, remote sections only, local keys winning, and the state-directory copy.
@Suite("ConfigLayer")
struct ConfigLayerTests {
    @Test func aRemoteDocumentIsCheckedByTheKioskParserWithLines() {
        let found = problems {
            _ = try ConfigLayer.parseRemote(text: """
                [rating]
                scale = "three"

                [session]
                timeout_ms = 50

                [sync]
                hub_url = "https://other.example"

                [[window]]
                id = "4"
                colour = "red"
                """, file: "hall.toml")
        }
        #expect(found.map(\.description) == [
            "hall.toml:5: timeout_ms 50 must be between 1000 (1 s) and 600000 (10 min)",
            "hall.toml:7: [sync] cannot be set remotely: the hub URL, sync mode and trust roots stay local: a wrong remote value would cut the kiosk off from the hub that could correct it",
            "hall.toml:12: unknown key 'colour' in [window[0]] (known keys: id, min_interval_ms, mode, timeout_ms)",
        ], "\(found)")
        for section in ["[web]\nlisten = \"0.0.0.0:8080\"", "[log]\nlevel = \"debug\"", "[device]\nname = \"x\"",
                        "[[keypad]]\nport = \"1-1\"\nwindow = \"3\""] {
            let refused = problems { _ = try ConfigLayer.parseRemote(text: section, file: "d.toml") }
            #expect(refused.count == 1 && refused[0].line == 1 && refused[0].message.contains("cannot be set remotely"), "\(refused)")
        }
    }

    @Test func onlyWrittenKeysAreInALayer() throws {
        let layer = try ConfigLayer.parseRemote(text: """
            [qr]
            url_template = "https://hub.example/r/{deviceId}/{staffId}"
            [[window]]
            id = "4"
            mode = "open"
            """, file: "d.toml")
        #expect(layer.keyPaths == ["qr.url_template", "window.4.mode"])
        #expect(layer.scale == nil && layer.session == WindowSettings())
        #expect(try ConfigLayer.parseRemote(text: layer.toml(), file: "again.toml") == layer)
    }

    @Test func deviceOverHallAndLocalOverBoth() throws {
        let hall = try ConfigLayer.parseRemote(text: """
            [rating]
            scale = "three"
            [session]
            mode = "open"
            timeout_ms = 20000
            [[window]]
            id = "4"
            mode = "armed"
            timeout_ms = 5000
            """, file: "hall.toml")
        let device = try ConfigLayer.parseRemote(text: "[session]\nmode = \"armed\"\n[[window]]\nid = \"4\"\nmode = \"open\"\n", file: "device.toml")
        let localText = "[session]\ntimeout_ms = 15000\n[[window]]\nid = \"3\"\nmode = \"open\"\n"
        let local = try ConfigLayer.written(in: localText, file: "pingjia.toml")
        let base = EffectiveConfig(local: try KioskConfig.parse(text: localText, file: "pingjia.toml"), localLayer: local)
        let applied = AppliedRemoteConfig(version: 3, hallDocument: hall.toml(), deviceDocument: device.toml(),
                                          issuedAt: "t", signature: "s", appliedAt: "t")
        let effective = try base.applying(applied)
        #expect(effective.config.scale == "three")
        #expect(effective.config.sessions.mode == .armed)           // device over hall
        #expect(effective.config.sessions.timeoutMs == 15000)       // local over hall
        #expect(effective.config.sessions.mode("4") == .open)       // device over hall, per key
        #expect(effective.config.sessions.timeoutNs("4") == 5_000_000_000)  // hall's key the device leaves alone
        #expect(effective.config.sessions.mode("3") == .open)       // local only
        #expect(effective.overrides == ["session.timeout_ms"])
        #expect(effective.remoteVersion == 3)
        #expect(effective.remoteKeys.contains("rating.scale") && !effective.remoteKeys.contains("session.timeout_ms"))
    }

    @Test func theStateDirectoryCopyIsWrittenAtomicallyAndReadBack() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ConfigLayerTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let location = StateLocation(stateDirectory: dir, configFile: nil, environment: [:], isRoot: false)
        #expect(try AppliedRemoteConfig.load(location) == nil)
        let applied = AppliedRemoteConfig(version: 2, hallDocument: "[rating]\nscale = \"three\"\n", deviceDocument: nil,
                                          issuedAt: "2026-11-29T15:00:00Z", signature: "sig", appliedAt: "2026-11-29T15:00:01Z")
        try applied.save(location)
        #expect(try AppliedRemoteConfig.load(location) == applied)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["remote-config.json"])
        try Data("{".utf8).write(to: URL(fileURLWithPath: AppliedRemoteConfig.file(location)))
        #expect(throws: ConfigEditError.self) { _ = try AppliedRemoteConfig.load(location) }
    }

    @Test func theHolderHandsEveryChangeToItsReaders() async throws {
        let base = EffectiveConfig(local: KioskConfig(), localLayer: ConfigLayer())
        let live = LiveConfig(base)
        let changes = live.changes()
        let next = try base.applying(AppliedRemoteConfig(version: 1, hallDocument: "[rating]\nscale = \"three\"\n", deviceDocument: nil,
                                                         issuedAt: "t", signature: "s", appliedAt: "t"))
        live.replace(next)
        #expect(live.config.scale == "three")
        var iterator = changes.makeAsyncIterator()
        #expect(await iterator.next()?.remoteVersion == 1)
    }
}

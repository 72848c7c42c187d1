import Foundation
import PingjiaTOML
import Testing
@testable import PingjiaConfig

@Suite("KioskConfig sessions and web")
struct SessionConfigTests {
    @Test func sessionWindowAndWebKeysAreRead() throws {
        let config = try KioskConfig.parse(text: """
            [session]
            mode = "open"
            timeout_ms = 15000
            min_interval_ms = 250
            [[window]]
            id = "W03"
            mode = "armed"
            timeout_ms = 5000
            [web]
            listen = "0.0.0.0:8181"
            """, file: "pingjia.toml")
        #expect(config.sessions.mode(".elsewhere") == .open)
        #expect(config.sessions.mode("W03") == .armed)
        #expect(config.sessions.timeoutNs("W03") == 5_000_000_000)
        #expect(config.sessions.timeoutNs("W04") == 15_000_000_000)
        #expect(config.sessions.minIntervalNs("W03") == 250_000_000)
        #expect(config.web.listen == "0.0.0.0" && config.web.port == 8181)
    }

    @Test func defaultsAreArmedTenSecondsAndLoopback() {
        let config = KioskConfig()
        #expect(config.sessions.mode("W03") == .armed)
        #expect(config.sessions.timeoutNs("W03") == 10_000_000_000)
        #expect(config.sessions.minIntervalNs("W03") == 300_000_000)
        #expect(config.web.listen == "127.0.0.1" && config.web.port == 8080)
    }

    @Test(arguments: [
        ("[session]\nmode = \"always\"\n", 2, "mode 'always'"),
        ("[session]\ntimeout_ms = 10\n", 2, "timeout_ms 10"),
        ("[session]\nmin_interval_ms = -1\n", 2, "min_interval_ms -1"),
        ("[[window]]\nmode = \"open\"\n", 1, "id"),
        ("[[window]]\nid = \"W1\"\n[[window]]\nid = \"W1\"\n", 4, "two [[window]]"),
        ("[web]\nlisten = \"127.0.0.1:70000\"\n", 2, "host:port"),
        ("[web]\nlisten = \"127.0.0.1\"\n", 2, "host:port"),
        ("[web]\nport = 8080\n", 2, "port"),
        ("[session]\ntimeout = 10\n", 2, "timeout"),
    ])
    func badValuesAreRejectedOnTheirLine(text: String, line: Int, words: String) {
        let found = problems { _ = try KioskConfig.parse(text: text, file: "pingjia.toml") }
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.line == line, "\(found)")
        #expect(found.first?.message.contains(words) == true, "\(found)")
    }
}

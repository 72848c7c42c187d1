import PingjiaTOML
import Testing
@testable import PingjiaConfig

@Suite("SyncConfig")
struct SyncConfigTests {
    @Test func aFullSyncSectionIsRead() throws {
        let config = try KioskConfig.parse(text: """
            [sync]
            hub_url = "https://hub.example.gov.cn:8780/"
            mode = "push"
            batch_records = 200
            batch_bytes = 65536
            ca_bundle = "/etc/pingjia/hub-ca.pem"
            retention_days = 0
            heartbeat_seconds = 30
            """, file: "pingjia.toml")
        #expect(config.sync.hubURL == "https://hub.example.gov.cn:8780")
        #expect(config.sync.batchRecords == 200)
        #expect(config.sync.batchBytes == 65536)
        #expect(config.sync.caBundle == "/etc/pingjia/hub-ca.pem")
        #expect(config.sync.retentionDays == 0)
        #expect(config.sync.heartbeatSeconds == 30)
        #expect(try KioskConfig.parse(text: "[sync]\nheartbeat_seconds = 0\n", file: "pingjia.toml").sync.heartbeatSeconds == 0)
        #expect(try KioskConfig.parse(text: "", file: "pingjia.toml").sync.heartbeatSeconds == 60)
        let pull = try KioskConfig.parse(text: "[sync]\nmode = \"pull\"\nlisten = \"0.0.0.0:8781\"\n", file: "pingjia.toml")
        #expect(pull.sync.mode == .pull && pull.sync.listenHost == "0.0.0.0" && pull.sync.listenPort == 8781)
    }

    @Test(arguments: [
        ("hub_url = \"ftp://hub\"", 2, "must be an http:// or https:// URL"),
        ("mode = \"pull\"", 2, "needs listen"),
        ("mode = \"both\"", 2, "must be \"push\""),
        ("listen = \"8781\"", 2, "must be host:port"),
        ("batch_records = 0", 2, "must be 1-5000"),
        ("batch_bytes = 100", 2, "must be 16384-4000000"),
        ("ca_bundle = \"hub.pem\"", 2, "must be an absolute path"),
        ("retention_days = -1", 2, "0 (keep all) to 3650"),
        ("heartbeat_seconds = 5", 2, "must be 10-3600 (or 0 to send none)"),
        ("heartbeat_seconds = \"60\"", 2, "heartbeat_seconds"),
        ("hub = \"https://x\"", 2, "unknown key 'hub'"),
    ])
    func badValuesAreRefusedWithFileAndLine(line: String, number: Int, reason: String) {
        let found = KioskConfigTests.parseProblems("[sync]\n\(line)\n")
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.line == number, "\(found)")
        #expect(found.first?.message.contains(reason) == true, "\(found)")
    }
}

import Foundation
import Testing

/// Start-up refusals and the shipped systemd units, checked the way an installer meets them.
@Suite struct HardeningTests {
    @Test func theHubRefusesToStartWithAPrivateKeyOthersCanRead() throws {
        try withTempDir { dir in
            let db = dir.appendingPathComponent("hub/hub.db")
            let made = try run(binary("pingjia-hub"), ["devices", "list", "--db", db.path], in: dir)
            #expect(made.status == 0, "\(made)")
            let key = dir.appendingPathComponent("hub/hub.key").path
            #expect(try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int == 0o600)

            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
            let refused = try run(binary("pingjia-hub"), ["devices", "list", "--db", db.path], in: dir)
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("mode 644"), "\(refused)")
            #expect(refused.stderr.contains("chmod 600 \(key)"), "\(refused)")

            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
            #expect(try run(binary("pingjia-hub"), ["devices", "list", "--db", db.path], in: dir).status == 0)
        }
    }

    /// `systemd-analyze security --offline=yes` needs no running systemd; the bar is 2.0.
    @Test(arguments: ["pingjiad.service", "pingjia-hub.service"])
    func shippedUnitsScoreAtMostTwoInSystemdsExposureAnalysis(unit: String) throws {
        let path = repoRoot.appendingPathComponent("systemd/\(unit)").path
        let result = try run(tool("systemd-analyze"), ["security", "--offline=yes", "--no-pager", path], in: repoRoot)
        let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }, "\(result)")
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, "\(line)")
        #expect(score <= 2.0, "\(line)")
    }
}

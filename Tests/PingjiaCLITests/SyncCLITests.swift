import Foundation
import PingjiaCore
import PingjiaStore
import Testing

/// Enrollment and sync end to end with the built binaries, as an operator and an installer
/// would run them: `pingjia-hub serve`, `pingjia-hub devices add/revoke`, `pingjia enroll`,
/// `pingjiad` (killed with SIGKILL mid-sync and started again), `pingjia sync now/status`.
@Suite(.serialized) struct SyncCLITests {
    /// `pingjia-hub serve` on a free port, its phone page public there (`--public-url`, as a
    /// hall's hub is run); returns it with its URL.
    static func startHub(db: URL, in dir: URL) throws -> (RunningProcess, String) {
        let url = "http://127.0.0.1:\(try freePort())"
        let hub = try RunningProcess(try binary("pingjia-hub"), ["serve", "--db", db.path, "--port", String(url.split(separator: ":").last!),
                                                                 "--public-url", url], in: dir)
        guard hub.waitFor("listening=127.0.0.1:", timeout: 20) else {
            throw SupportError("pingjia-hub did not start:\n\(hub.log)")
        }
        return (hub, url)
    }

    static func hubCLI(_ arguments: [String], db: URL, in dir: URL) throws -> Run {
        try run(binary("pingjia-hub"), arguments + ["--db", db.path], in: dir)
    }

    /// (seq, hash) pairs from a SQLite file, as an auditor with the file would read them.
    static func chain(_ db: URL, table: String) throws -> [String] {
        try sqlite3(db, "SELECT seq || ' ' || lower(hex(hash)) FROM \(table) ORDER BY seq;").split(separator: "\n").map(String.init)
    }

    /// The operator's PostgreSQL mistakes are named before anything runs: no shared key for
    /// `serve`, a URL the hub cannot use, a server that is not there.
    @Test func postgresMistakesAreNamedWithWhatToDo() throws {
        try withTempDir { dir in
            let hub = try binary("pingjia-hub")
            let noKey = try run(hub, ["serve", "--db", "postgres://pingjia@127.0.0.1:1/pingjia_hub"], in: dir)
            #expect(noKey.status == 1 && noKey.stderr.contains("--key FILE is required with a PostgreSQL database"), "\(noKey)")
            let noDatabase = try run(hub, ["devices", "list", "--db", "postgres://pingjia@127.0.0.1:5432"], in: dir)
            #expect(noDatabase.status == 1 && noDatabase.stderr.contains("names no database"), "\(noDatabase)")
            let badSchema = try run(hub, ["devices", "list", "--db", "postgres://pingjia@127.0.0.1/hub?schema=Hub;"], in: dir)
            #expect(badSchema.status == 1 && badSchema.stderr.contains("must be lowercase letters, digits and _"), "\(badSchema)")
            // Port 1 on loopback: nothing listens; the answer comes at once, naming the place.
            let refused = try run(hub, ["devices", "list", "--db", "postgres://pingjia@127.0.0.1:1/pingjia_hub"], in: dir, timeout: 20)
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("cannot connect to the hub database postgres://pingjia@127.0.0.1:1/pingjia_hub"), "\(refused)")
        }
    }

    @Test func enrollSyncThroughAKill9AndRevoke() throws {
        try withTempDir { dir in
            let hubDB = dir.appendingPathComponent("hub/hub.db")
            let (hub, url) = try Self.startHub(db: hubDB, in: dir)
            defer { hub.stop() }

            // The operator registers the kiosk; the code is the only line on stdout.
            let added = try Self.hubCLI(["devices", "add", "--hall", "市民中心", "--name", "3号窗口"], db: hubDB, in: dir)
            #expect(added.status == 0, "\(added)")
            let code = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(code.count == 9, "\(added)")

            let state = try initialisedState(in: dir, roster: true)
            let device = try deviceId(of: state)
            let wrong = try pingjia(["enroll", "--hub", url, "--code", "AAAA-BBBB"], state: state)
            #expect(wrong.status == 1)
            #expect(wrong.stderr.contains("403 bad-enrollment-code"), "\(wrong)")
            let enrolled = try pingjia(["enroll", "--hub", url, "--code", code], state: state)
            #expect(enrolled.status == 0, "\(enrolled)")
            #expect(enrolled.stdout.contains("enrolled \(device) with \(url) as 市民中心 / 3号窗口"), "\(enrolled)")
            let keyMode = try FileManager.default.attributesOfItem(atPath: state.appendingPathComponent("sync/device.key").path)[.posixPermissions] as? Int
            #expect(keyMode == 0o600)
            let reused = try pingjia(["enroll", "--hub", url, "--code", code], state: state)
            #expect(reused.status == 1 && reused.stderr.contains("already enrolled"), "\(reused)")

            // Ratings taken while pingjiad is not running wait in the outbox.
            let total = 1500
            let store = try KioskStore.open(path: state.appendingPathComponent("pingjia.db").path, deviceId: device)
            for n in 1...total {
                try store.append(NewRating(staffId: "A1023", windowId: "3", channel: .keypad, scale: "five", level: n % 5 + 1,
                                           code: SatisfactionCode(rawValue: n % 5 + 1)!, ratedAt: DeviceTime.format(Date()),
                                           monotonicNs: UInt64(n)))
            }
            store.close()
            // Small batches: with the hub's per-device request limit the backlog takes ~15 s to
            // deliver, so the daemon is surely in the middle of it when it is killed, however
            // slowly this test gets to look at the hub on a loaded machine.
            let config = state.appendingPathComponent("pingjia.toml")
            try (String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "batch_records = 500", with: "batch_records = 5"))
                .write(to: config, atomically: true, encoding: .utf8)

            let first = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            #expect(first.waitFor("sync: pushing to the hub", timeout: 20), "\(first.log)")
            var hubSeq = 0
            let deadline = Date().addingTimeInterval(30)
            while hubSeq < 50 && Date() < deadline {
                hubSeq = Int(try sqlite3(hubDB, "SELECT coalesce(max(seq), 0) FROM record;").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
                Thread.sleep(forTimeInterval: 0.01)
            }
            first.stop(SIGKILL)
            #expect(hubSeq >= 50, "the daemon delivered nothing in 30 s:\n\(first.log)")
            #expect(hubSeq < total, "the backlog was already delivered before the kill; the test proves nothing")

            // Started again, it carries on from its last receipt; the hub stores each record once.
            let second = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            var pending = UInt64.max
            let end = Date().addingTimeInterval(60)
            while pending > 0 && Date() < end {
                struct Sync: Decodable { let pending: UInt64 }
                let status = try pingjia(["sync", "status", "--json"], state: state)
                pending = (try? JSONDecoder().decode(Sync.self, from: status.stdoutBytes).pending) ?? .max
                if pending > 0 { Thread.sleep(forTimeInterval: 0.2) }
            }
            second.stop()
            #expect(pending == 0, "still \(pending) waiting:\n\(second.log)")
            let ours = try Self.chain(state.appendingPathComponent("pingjia.db"), table: "rating")
            let theirs = try Self.chain(hubDB, table: "record")
            #expect(ours.count == total)
            #expect(ours == theirs, "the hub's records differ from the device's")

            let listed = try Self.hubCLI(["devices", "list"], db: hubDB, in: dir)
            #expect(listed.stdout.contains("\(device)\tactive\t市民中心\t3号窗口\tlast seq \(total)"), "\(listed)")

            // Revoked: the hub refuses with 403, the device stops and says so everywhere.
            let revoked = try Self.hubCLI(["devices", "revoke", device], db: hubDB, in: dir)
            #expect(revoked.status == 0, "\(revoked)")
            #expect(try pingjia(["rate", "--staff", "A1023", "--level", "2"], state: state).status == 0)
            let now = try pingjia(["sync", "now"], state: state)
            #expect(now.status == 1)
            #expect(now.stderr.contains("403 revoked"), "\(now)")
            let status = try pingjia(["sync", "status"], state: state)
            #expect(status.stdout.contains("ALARM: sync stopped (dead letter)"), "\(status)")
            #expect(status.stdout.contains("\(total) of \(total + 1) (1 waiting)"), "\(status)")
            let outbox = try pingjia(["outbox", "status"], state: state)
            #expect(outbox.stdout.contains("ALARM sync stopped (dead letter)"), "\(outbox)")
            #expect(outbox.stdout.contains("403 revoked"), "\(outbox)")
            #expect(try Self.chain(hubDB, table: "record").count == total)

            // pingjiad says it loudly at start and does not hammer the hub.
            let third = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            #expect(third.waitFor("ALARM: sync is stopped (dead letter)", timeout: 20), "\(third.log)")
            third.stop()
        }
    }

    @Test func syncNowDrainsWithProgressAndReportsTheRate() throws {
        try withTempDir { dir in
            let hubDB = dir.appendingPathComponent("hub/hub.db")
            let (hub, url) = try Self.startHub(db: hubDB, in: dir)
            defer { hub.stop() }
            let code = try Self.hubCLI(["devices", "add", "--hall", "H", "--name", "N"], db: hubDB, in: dir).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let state = try initialisedState(in: dir, roster: true)
            #expect(try pingjia(["sync", "now"], state: state).stderr.contains("not enrolled"))
            #expect(try pingjia(["enroll", "--hub", url, "--code", code], state: state).status == 0)
            for level in 1...3 { #expect(try pingjia(["rate", "--staff", "A1023", "--level", "\(level)"], state: state).status == 0) }
            let now = try pingjia(["sync", "now"], state: state)
            #expect(now.status == 0, "\(now)")
            #expect(now.stdout.contains("delivered 3 ratings in"), "\(now)")
            #expect(now.stderr.contains("3/3"), "no progress line: \(now)")
            let status = try pingjia(["sync", "status"], state: state)
            #expect(status.stdout.contains("through seq 3 of 3 (0 waiting)"), "\(status)")
        }
    }

    @Test func pullModeTheRunningHubFetchesFromTheKiosk() throws {
        try withTempDir { dir in
            let hubDB = dir.appendingPathComponent("hub/hub.db")
            let (hub, url) = try Self.startHub(db: hubDB, in: dir)
            defer { hub.stop() }
            let code = try Self.hubCLI(["devices", "add", "--hall", "H", "--name", "N"], db: hubDB, in: dir).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let state = try initialisedState(in: dir, roster: true)
            let device = try deviceId(of: state)
            #expect(try pingjia(["enroll", "--hub", url, "--code", code], state: state).status == 0)
            for level in [1, 2, 3, 4, 5] { #expect(try pingjia(["rate", "--staff", "A1023", "--level", "\(level)"], state: state).status == 0) }
            let port = try freePort()
            let config = state.appendingPathComponent("pingjia.toml")
            try (String(contentsOf: config, encoding: .utf8)
                .replacingOccurrences(of: "mode = \"push\"", with: "mode = \"pull\"")
                .replacingOccurrences(of: "# listen = \"0.0.0.0:8781\"", with: "listen = \"127.0.0.1:\(port)\""))
                .write(to: config, atomically: true, encoding: .utf8)
            let daemon = try RunningProcess(try binary("pingjiad"), ["--state-dir", state.path], in: dir)
            #expect(daemon.waitFor("sync endpoints listening", timeout: 20), "\(daemon.log)")
            let pull = try Self.hubCLI(["devices", "pull", device, "--url", "http://127.0.0.1:\(port)"], db: hubDB, in: dir)
            #expect(pull.status == 0, "\(pull)")

            var acked = false
            let deadline = Date().addingTimeInterval(30)
            while !acked && Date() < deadline {
                acked = try pingjia(["sync", "status"], state: state).stdout.contains("through seq 5 of 5 (0 waiting)")
                if !acked { Thread.sleep(forTimeInterval: 0.3) }
            }
            daemon.stop()
            #expect(acked, "the hub did not pull within 30 s:\n\(hub.log)\n\(daemon.log)")
            #expect(try Self.chain(state.appendingPathComponent("pingjia.db"), table: "rating") == Self.chain(hubDB, table: "record"))
        }
    }
}

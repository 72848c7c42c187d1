import Foundation
import Testing

/// `pingjia-hub users`, `report` and `serve --workflow` as an operator runs them.
@Suite struct HubAdminCLITests {
    static func hub(_ arguments: [String], db: URL, in dir: URL) throws -> Run {
        try run(binary("pingjia-hub"), arguments + ["--db", db.path], in: dir)
    }

    @Test func usersAreAddedListedAndRefusedWithWhatToDo() throws {
        try withTempDir { dir in
            let db = dir.appendingPathComponent("hub/hub.db")
            let password = dir.appendingPathComponent("pw")
            try "short\n".write(to: password, atomically: true, encoding: .utf8)
            let short = try Self.hub(["users", "add", "wang", "--role", "manager", "--hall", "市民中心", "--password-file", password.path], db: db, in: dir)
            #expect(short.status == 1 && short.stderr.contains("at least 10 characters"), "\(short)")
            try "a long enough one\n".write(to: password, atomically: true, encoding: .utf8)
            let noHall = try Self.hub(["users", "add", "wang", "--role", "manager", "--password-file", password.path], db: db, in: dir)
            #expect(noHall.status == 1 && noHall.stderr.contains("a manager needs --hall"), "\(noHall)")
            let added = try Self.hub(["users", "add", "wang", "--role", "manager", "--hall", "市民中心", "--password-file", password.path], db: db, in: dir)
            #expect(added.status == 0, "\(added)")
            let again = try Self.hub(["users", "add", "wang", "--role", "auditor", "--password-file", password.path], db: db, in: dir)
            #expect(again.status == 1 && again.stderr.contains("exists already"), "\(again)")
            #expect(try Self.hub(["users", "add", "zhao", "--role", "auditor", "--password-file", password.path], db: db, in: dir).status == 0)
            let list = try Self.hub(["users", "list"], db: db, in: dir)
            #expect(list.stdout == "wang\tmanager\t市民中心\nzhao\tauditor\t(all halls)\n", "\(list)")
            // Stored as a salted PBKDF2 hash, never the password.
            let stored = try sqlite3(db, "SELECT password_hash FROM admin_user WHERE name = 'wang';")
            #expect(stored.hasPrefix("pbkdf2-sha256$600000$") && !stored.contains("long enough"))
            #expect(try Self.hub(["users", "passwd", "nobody", "--password-file", password.path], db: db, in: dir).stderr
                        .contains("no user 'nobody'"))
            #expect(try Self.hub(["users", "remove", "zhao"], db: db, in: dir).status == 0)
            #expect(try Self.hub(["users", "list"], db: db, in: dir).stdout == "wang\tmanager\t市民中心\n")
        }
    }

    /// `--db hub.db`, a bare file name as an operator types it in the folder they work in: the
    /// hub's key is made beside it, private.
    @Test func aDatabaseNamedWithoutAFolderGetsItsKeyBesideIt() throws {
        try withTempDir { dir in
            let added = try run(binary("pingjia-hub"), ["devices", "add", "--hall", "市民中心", "--name", "1号窗口", "--db", "hub.db"], in: dir)
            #expect(added.status == 0 && added.stderr.contains("enrollment code"), "\(added)")
            let key = dir.appendingPathComponent("hub.key").path
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(String(describing: mode))")
            let again = try run(binary("pingjia-hub"), ["devices", "list", "--db", "hub.db"], in: dir)
            #expect(again.status == 0 && again.stdout.contains("1号窗口"), "\(again)")
        }
    }

    @Test func reportPrintsEveryFormatAndNamesBadArguments() throws {
        try withTempDir { dir in
            let db = dir.appendingPathComponent("hub/hub.db")
            let json = try Self.hub(["report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"], db: db, in: dir)
            #expect(json.status == 0 && json.stdout.contains("\"timeZone\" : \"Asia/Shanghai\""), "\(json)")
            let csv = try Self.hub(["report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "csv", "--by", "staff"], db: db, in: dir)
            #expect(csv.stdout.hasPrefix("key,ratings,good,basic,bad_valid,") && csv.stdout.contains("TOTAL,0,"), "\(csv)")
            let table = try Self.hub(["report", "--from", "2026-11-01", "--to", "2026-11-30"], db: db, in: dir)
            #expect(table.stdout.contains("差评率") && table.stdout.contains("合计"), "\(table)")
            let badDate = try Self.hub(["report", "--from", "2026-11-31", "--to", "2026-11-30"], db: db, in: dir)
            #expect(badDate.status == 1 && badDate.stderr.contains("--from '2026-11-31' is not a date"), "\(badDate)")
            let badBy = try Self.hub(["report", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "hour"], db: db, in: dir)
            #expect(badBy.status == 1 && badBy.stderr.contains("--by must be staff, window, matter or day"), "\(badBy)")
        }
    }

    @Test func aBrokenWorkflowFileStopsServeWithFileAndLine() throws {
        try withTempDir { dir in
            let workflow = dir.appendingPathComponent("workflow.toml")
            try "[deadlines]\npending = 3\n".write(to: workflow, atomically: true, encoding: .utf8)
            let serve = try Self.hub(["serve", "--port", "0", "--workflow", workflow.path], db: dir.appendingPathComponent("hub/hub.db"), in: dir)
            #expect(serve.status == 1 && serve.stderr.contains("workflow.toml") && serve.stderr.contains("verified"), "\(serve)")
        }
    }
}

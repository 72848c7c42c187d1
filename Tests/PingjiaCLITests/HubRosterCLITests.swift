import Foundation
import Testing

/// `pingjia-hub roster import/list` and `halls set-scale` with the built binary, as an operator
/// would run them: the change shown before it is applied, and every bad row or photo as one
/// file:line with nothing applied.
@Suite struct HubRosterCLITests {
    @Test func importShowsTheChangeStoresPhotosAndRefusesBadRowsWhole() throws {
        try withTempDir { dir in
            let db = dir.appendingPathComponent("hub/hub.db")
            let demo = repoRoot.appendingPathComponent("demo/roster.csv").path
            let photos = repoRoot.appendingPathComponent("demo/photos").path
            func hub(_ arguments: [String]) throws -> Run { try SyncCLITests.hubCLI(arguments, db: db, in: dir) }

            let dry = try hub(["roster", "import", "--hall", "市民中心", demo, "--photos", photos, "--dry-run"])
            #expect(dry.status == 0 && dry.stdout.contains("+ A1023 张三, window 3") && dry.stdout.contains("dry run: nothing applied"), "\(dry)")
            #expect(try hub(["roster", "list", "--hall", "市民中心"]).stdout.contains("no staff yet"))

            let imported = try hub(["roster", "import", "--hall", "市民中心", demo, "--photos", photos, "--scale", "three"])
            #expect(imported.status == 0 && imported.stdout.contains("3 added, 0 updated, 0 removed; 3 photos"), "\(imported)")
            let listed = try hub(["roster", "list", "--hall", "市民中心"])
            #expect(listed.stdout.contains("scale three, 3 staff") && listed.stdout.contains("A1023\t张三\t3\t综合受理3号窗口\tA1023.png"), "\(listed)")
            let json = try hub(["roster", "list", "--hall", "市民中心", "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(object?["scale"] as? String == "three" && (object?["staff"] as? [[String: Any]])?.first?["windowName"] as? String == "综合受理3号窗口",
                    "\(json)")
            #expect(try sqlite3(db, "SELECT staff_id || ' ' || photo_type || ' ' || length(photo) FROM hub_staff ORDER BY staff_id LIMIT 1")
                    == "A1023 image/png 399\n")

            // A bad row and a photo that is no image: each named by file:line, nothing applied.
            let bad = dir.appendingPathComponent("bad.csv")
            try Data("""
                工号,姓名,窗口,照片
                A1023,张三丰,3,A1023.png
                A1024,,4,
                B2001,王五,5,fake.png
                """.utf8).write(to: bad)
            let badRows = try hub(["roster", "import", "--hall", "市民中心", bad.path, "--photos", photos])
            #expect(badRows.status == 1 && badRows.stderr.contains("\(bad.path):3: 姓名 (name) of A1024 is empty"), "\(badRows)")
            let fixed = dir.appendingPathComponent("fixed.csv")
            try Data("工号,姓名,窗口,照片\nA1023,张三丰,3,A1023.png\nB2001,王五,5,fake.png\nB2002,赵六,6,big.png\nB2003,钱七,7,gone.png\n".utf8).write(to: fixed)
            let photoDir = dir.appendingPathComponent("photos")
            try FileManager.default.createDirectory(at: photoDir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: photos + "/A1023.png", toPath: photoDir.appendingPathComponent("A1023.png").path)
            try Data("GIF89a not really".utf8).write(to: photoDir.appendingPathComponent("fake.png"))
            try Data([0xFF, 0xD8, 0xFF] + Array(repeating: 0, count: 600 * 1024)).write(to: photoDir.appendingPathComponent("big.png"))
            let badPhotos = try hub(["roster", "import", "--hall", "市民中心", fixed.path, "--photos", photoDir.path])
            #expect(badPhotos.status == 1, "\(badPhotos)")
            let lines = badPhotos.stderr.split(separator: "\n")
            #expect(lines.contains { $0.contains("\(fixed.path):3:") && $0.contains("is not a JPEG, PNG or WebP image") }, "\(badPhotos)")
            #expect(lines.contains { $0.contains("\(fixed.path):4:") && $0.contains("at most 512 KiB") }, "\(badPhotos)")
            #expect(lines.contains { $0.contains("\(fixed.path):5:") && $0.contains("cannot be read") }, "\(badPhotos)")
            #expect(lines.last?.contains("roster unchanged") == true, "\(badPhotos)")
            let noPhotoDir = try hub(["roster", "import", "--hall", "市民中心", fixed.path])
            #expect(noPhotoDir.status == 1 && noPhotoDir.stderr.contains("\(fixed.path):2: 照片 'A1023.png' of A1023 is named, but no --photos DIR"),
                    "\(noPhotoDir)")
            #expect(try hub(["roster", "list", "--hall", "市民中心"]).stdout.contains("A1023\t张三\t"), "unchanged")

            let unknown = try hub(["halls", "set-scale", "--hall", "市民中心", "seven"])
            #expect(unknown.status == 1 && unknown.stderr.contains("unknown rating scale 'seven' (known: five, three)"), "\(unknown)")
            #expect(try hub(["halls", "set-scale", "--hall", "市民中心", "five"]).stdout == "hall 市民中心 rates on the five scale\n")
        }
    }
}

import Foundation
import Testing

@Suite struct QRSheetTests {
    /// A roster of `count` people, three to a window, with Chinese names as a hall has them.
    private func roster(_ count: Int, in dir: URL) throws -> URL {
        let surnames = ["张", "李", "王", "赵", "陈", "刘"]
        var csv = "工号,姓名,窗口\n"
        for index in 1...count {
            csv += "S\(String(format: "%03d", index)),\(surnames[index % surnames.count])测试\(index),\((index - 1) / 3 + 1)\n"
        }
        let file = dir.appendingPathComponent("roster.csv")
        try Data(csv.utf8).write(to: file)
        return file
    }

    /// Every QR code zbar finds on a page. With -Sbinary the codes' bytes come out back to back,
    /// so the page's URLs are split where the next one starts.
    private func decodeAll(_ image: URL, in dir: URL) throws -> [String] {
        let result = try run(tool("zbarimg"), ["--raw", "-q", "--nodbus", "-Sbinary", image.path], in: dir)
        guard result.status == 0 else { throw SupportError("zbarimg found no QR code on \(image.lastPathComponent): \(result)") }
        return result.stdout.components(separatedBy: "https://").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }.map { "https://" + $0 }
    }

    /// Acceptance 3: 60 staff → PDF → 150 dpi pages → every sticker's code decodes to its URL.
    @Test func sixtyStaffPDFDecodesToExactlyTheRosterURLs() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir)
            let imported = try pingjia(["roster", "import", try roster(60, in: dir).path], state: state)
            #expect(imported.status == 0, "\(imported)")
            let pdf = dir.appendingPathComponent("stickers.pdf")
            let made = try pingjia(["qr", "sheet", "--output", pdf.path], state: state)
            #expect(made.status == 0, "\(made)")
            #expect(made.stdout.contains("60 stickers on 5 A4 pages"), "\(made)")
            // Not a TTY: plain progress lines, no bar drawing.
            #expect(made.stderr.contains("stickers: 60/60") && !made.stderr.contains("\r"), "\(made)")

            // Rasterised as a printer does, without anti-aliasing: on anti-aliased full pages zbar's
            // multi-symbol scan misses one or two codes now and then, while each decodes alone.
            let rendered = try run(tool("pdftoppm"), ["-r", "150", "-png", "-aa", "no", "-aaVector", "no", pdf.path,
                                                      dir.appendingPathComponent("page").path], in: dir)
            #expect(rendered.status == 0, "\(rendered)")
            let pages = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("page") && $0.hasSuffix(".png") }.sorted()
            #expect(pages.count == 5)
            var decoded: [String] = []
            for page in pages {
                let urls = try decodeAll(dir.appendingPathComponent(page), in: dir)
                #expect(urls.count == (page == pages.last ? 60 - 48 : 12), "\(page): \(urls)")
                decoded += urls
            }
            let device = try deviceId(of: state)
            let expected = (1...60).map { "https://pingjia.invalid/r/\(device)/S\(String(format: "%03d", $0))" }
            #expect(decoded.count == 60)
            #expect(Set(decoded) == Set(expected))
        }
    }

    @Test func windowsSelectTheirStaffAndSVGCarriesNamesAndCropMarks() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let svg = dir.appendingPathComponent("w.svg")
            let made = try pingjia(["qr", "sheet", "--windows", "3,4", "--output", svg.path], state: state)
            #expect(made.status == 0, "\(made)")
            let text = try String(contentsOf: svg, encoding: .utf8)
            #expect(text.contains("张三") && text.contains("李四") && !text.contains("王五"))
            #expect(text.contains("width=\"210mm\" height=\"297mm\""))
            #expect(text.contains("stroke-width=\"0.15\""), "crop marks")
            let png = dir.appendingPathComponent("w.png")
            #expect(try run(tool("rsvg-convert"), ["-d", "150", "-p", "150", "-o", png.path, svg.path], in: dir).status == 0)
            #expect(Set(try decodeAll(png, in: dir)).count == 2)
        }
    }

    @Test func anUnknownWindowIsOneClearLineAndWritesNothing() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let pdf = dir.appendingPathComponent("x.pdf")
            let made = try pingjia(["qr", "sheet", "--windows", "99", "--output", pdf.path], state: state)
            #expect(made.status == 1)
            #expect(made.stderrLines.count == 1 && made.stderr.contains("no staff at window 99"), "\(made)")
            #expect(!FileManager.default.fileExists(atPath: pdf.path))
        }
    }
}

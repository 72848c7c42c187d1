import Foundation
import Testing

@Suite struct QRSheetTests {
    /// 60 staff → PDF → 150 dpi pages → every sticker's code decodes to its link on the hub.
    @Test func sixtyStaffPDFDecodesToExactlyTheRosterURLs() throws {
        try withTempDir { dir in
            let hall = try SetUpHall(in: dir, roster: try generatedRoster(60, perWindow: 3, in: dir),
                                     windows: (1...20).map(String.init).joined(separator: ","))
            let pdf = dir.appendingPathComponent("stickers.pdf")
            let made = try pingjia(["qr", "sheet", "--output", pdf.path], state: hall.state)
            #expect(made.status == 0, "\(made)")
            #expect(made.stdout.contains("60 stickers on 5 A4 pages"), "\(made)")
            // Not a TTY: plain progress lines, no bar drawing.
            #expect(made.stderr.contains("stickers: 60/60") && !made.stderr.contains("\r"), "\(made)")

            let pages = try renderPDF(pdf, dpi: 150, in: dir)
            #expect(pages.count == 5)
            var decoded: [String] = []
            for page in pages {
                let urls = try decodeAllQRCodes(page, in: dir)
                #expect(urls.count == (page == pages.last ? 60 - 48 : 12), "\(page.lastPathComponent): \(urls)")
                decoded += urls
            }
            let device = try deviceId(of: hall.state)
            let expected = (1...60).map { "\(hall.hubURL)/r/\(device)/S\(String(format: "%03d", $0))" }
            #expect(decoded.count == 60)
            #expect(Set(decoded) == Set(expected))
        }
    }

    @Test func windowsSelectTheirStaffAndSVGCarriesNamesAndCropMarks() throws {
        try withTempDir { dir in
            let hall = try SetUpHall(in: dir, roster: repoRoot.appendingPathComponent("demo/roster.csv"), windows: "3,4,5")
            let svg = dir.appendingPathComponent("w.svg")
            let made = try pingjia(["qr", "sheet", "--windows", "3,4", "--output", svg.path], state: hall.state)
            #expect(made.status == 0, "\(made)")
            let text = try String(contentsOf: svg, encoding: .utf8)
            #expect(text.contains("张三") && text.contains("李四") && !text.contains("王五"))
            #expect(text.contains("width=\"210mm\" height=\"297mm\""))
            #expect(text.contains("stroke-width=\"0.15\""), "crop marks")
            let png = dir.appendingPathComponent("w.png")
            #expect(try run(tool("rsvg-convert"), ["-d", "150", "-p", "150", "-o", png.path, svg.path], in: dir).status == 0)
            #expect(Set(try decodeAllQRCodes(png, in: dir)).count == 2)
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

    /// A kiosk never enrolled with a hub has only the placeholder link: no sticker and no code is
    /// made with it, and the one line says what to set.
    @Test(arguments: [["qr", "sheet", "--output"], ["qr", "--staff", "A1023", "--format", "png", "--output"]])
    func aPlaceholderLinkIsRefusedAndNothingIsWritten(command: [String]) throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let file = dir.appendingPathComponent(command.contains("sheet") ? "x.pdf" : "x.png")
            let made = try pingjia(command + [file.path], state: state)
            #expect(made.status == 1, "\(made)")
            #expect(made.stderrLines.count == 1 && made.stderr.contains("placeholder https://pingjia.invalid/")
                    && made.stderr.contains("pingjia-hub serve --public-url"), "\(made)")
            #expect(!FileManager.default.fileExists(atPath: file.path))
        }
    }

    /// A link the hub does not answer for (the staff member is not in the hall's roster there) is
    /// refused too, naming the staff member and the status.
    @Test func aLinkTheHubAnswers404IsRefused() throws {
        try withTempDir { dir in
            let hall = try SetUpHall(in: dir, roster: repoRoot.appendingPathComponent("demo/roster.csv"), windows: "3,4,5")
            // The kiosk's roster gains someone the hub has never heard of.
            let extra = dir.appendingPathComponent("extra.csv")
            try Data("工号,姓名,窗口\nZ9999,新来的,3\n".utf8).write(to: extra)
            // pingjiad is not running, so the roster stays as imported here until the hub's is followed.
            #expect(try pingjia(["roster", "import", extra.path], state: hall.state).status == 0)
            let pdf = dir.appendingPathComponent("x.pdf")
            let made = try pingjia(["qr", "sheet", "--output", pdf.path], state: hall.state)
            #expect(made.status == 1, "\(made)")
            #expect(made.stderrLines.count == 1 && made.stderr.contains("Z9999") && made.stderr.contains("HTTP 404"), "\(made)")
            #expect(!FileManager.default.fileExists(atPath: pdf.path))
        }
    }
}

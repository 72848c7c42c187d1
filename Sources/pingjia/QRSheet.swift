import ArgumentParser
import Foundation
import PingjiaCore
import PingjiaInstaller
import PingjiaKiosk
import PingjiaQR

struct QRSheet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sheet",
        abstract: "Print QR stickers for the roster: A4 pages, 12 stickers each, with crop marks.",
        discussion: """
            Each sticker has the staff member's name, 工号, window and the rating QR code ([qr] url_template,
            by default the phone page of the hub the kiosk enrolled with). Every link is opened first: a
            placeholder link, or one that does not answer 200 with the staff member's name, writes nothing.
            pingjia qr sheet --output stickers.pdf                 everyone in the roster
            pingjia qr sheet --windows 3,4 --output stickers.svg   windows 3 and 4 only
            PDF goes through rsvg-convert (Debian librsvg2-bin). An .svg output of more than one page
            is written as NAME-1.svg, NAME-2.svg, …
            """
    )

    @Option(name: .shortAndLong, help: "stickers.pdf or stickers.svg")
    var output: String

    @Option(help: "Only these windows, comma-separated (default: every window of the roster).")
    var windows: String?

    @OptionGroup var state: StateOptions

    func validate() throws {
        let ext = (output as NSString).pathExtension.lowercased()
        guard ext == "pdf" || ext == "svg" else {
            throw ValidationError("--output must end in .pdf or .svg, e.g. --output stickers.pdf")
        }
    }

    func run() async throws {
        do {
            let context = try state.open()
            defer { context.close() }
            var staff = try context.store.staff()
            if let windows {
                let wanted = Set(windows.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
                let known = Set(staff.map(\.windowId))
                let unknown = wanted.subtracting(known).sorted()
                if !unknown.isEmpty {
                    throw Failure("no staff at window \(unknown.joined(separator: ", ")) in the roster (windows with staff: "
                                  + "\(known.sorted().joined(separator: ", "))): check --windows or import the roster")
                }
                staff = staff.filter { wanted.contains($0.windowId) }
            }
            guard !staff.isEmpty else {
                throw Failure("the roster is empty: import it first with `pingjia roster import FILE.csv`")
            }
            staff.sort { ($0.windowId.count, $0.windowId, $0.id) < ($1.windowId.count, $1.windowId, $1.id) }
            let stickers = staff.map { person in
                Sticker(name: person.name, staffId: person.id, windowId: person.windowId,
                        payload: context.config.qrURLTemplate.expand(deviceId: context.deviceId, staffId: person.id, windowId: person.windowId))
            }
            // A sheet of stickers that open nothing is worse than none: check every link first.
            if let placeholder = PhoneLinkCheck.placeholderProblem(context.config.qrURLTemplate) { throw Failure(placeholder) }
            let problems = await PhoneLinkCheck.problems(stickers.map { PhoneLinkCheck.Link(url: $0.payload, staffId: $0.staffId, name: $0.name) })
            if let first = problems.first {
                throw Failure(first + (problems.count > 1 ? " (and \(problems.count - 1) more links like it); nothing written" : "; nothing written"))
            }
            let progress = ProgressReporter(total: stickers.count, label: "stickers")
            let pages = try StickerSheet.pages(stickers, errorCorrection: context.config.qrErrorCorrection, progress: progress.update)
            let written: [String]
            if (output as NSString).pathExtension.lowercased() == "pdf" {
                try SVGToPDF.convert(pages, to: output)
                written = [output]
            } else {
                written = try writeSVG(pages)
            }
            print("wrote \(written.joined(separator: ", ")): \(stickers.count) stickers on \(pages.count) A4 page\(pages.count == 1 ? "" : "s")")
        } catch {
            Self.fail(error)
        }
    }

    private func writeSVG(_ pages: [String]) throws -> [String] {
        let files: [String]
        if pages.count == 1 {
            files = [output]
        } else {
            let base = (output as NSString).deletingPathExtension
            files = pages.indices.map { "\(base)-\($0 + 1).svg" }
        }
        for (file, page) in zip(files, pages) {
            do {
                try Data(page.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
            } catch {
                throw Failure("cannot write \(file): \(error.localizedDescription)")
            }
        }
        return files
    }
}

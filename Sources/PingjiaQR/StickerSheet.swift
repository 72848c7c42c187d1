import Foundation

/// One QR sticker for a window: who it rates and the link behind the code.
public struct Sticker: Sendable, Equatable {
    public var name: String
    public var staffId: String
    public var windowId: String
    public var payload: String

    public init(name: String, staffId: String, windowId: String, payload: String) {
        self.name = name
        self.staffId = staffId
        self.windowId = windowId
        self.payload = payload
    }
}

/// A4 pages of QR stickers, 3 × 4 to a page, as SVG in millimetres, with crop marks at every
/// corner of the grid so a guillotine or scissors can follow them. Vector all the way: the QR
/// modules stay sharp at any printer resolution.
public enum StickerSheet {
    public static let columns = 3
    public static let rows = 4
    public static var perPage: Int { columns * rows }

    static let pageWidth = 210.0, pageHeight = 297.0
    static let cellWidth = 63.0, cellHeight = 68.0
    static let qrSide = 44.0
    /// CJK-capable first (fonts-wqy-microhei), so names such as 张三 are never boxes.
    static let fontFamily = "WenQuanYi Micro Hei, Noto Sans CJK SC, sans-serif"

    static var marginX: Double { (pageWidth - Double(columns) * cellWidth) / 2 }
    static var marginY: Double { (pageHeight - Double(rows) * cellHeight) / 2 }

    /// One SVG document per page. `progress` is told how many stickers are laid out so far.
    public static func pages(_ stickers: [Sticker], errorCorrection: QRErrorCorrection = .medium,
                             progress: (Int) -> Void = { _ in }) throws(QRError) -> [String] {
        var pages: [String] = []
        var done = 0
        let pageCount = (stickers.count + perPage - 1) / perPage
        for pageIndex in 0..<pageCount {
            let slice = stickers[(pageIndex * perPage)..<min(stickers.count, (pageIndex + 1) * perPage)]
            var body = ""
            for (slot, sticker) in slice.enumerated() {
                let x = marginX + Double(slot % columns) * cellWidth
                let y = marginY + Double(slot / columns) * cellHeight
                body += try cell(sticker, x: x, y: y, errorCorrection: errorCorrection)
                done += 1
                progress(done)
            }
            body += cropMarks()
            body += text("\(pageIndex + 1) / \(pageCount)", x: pageWidth / 2, y: pageHeight - 4, size: 2.5, fill: "#666")
            pages.append("""
                <?xml version="1.0" encoding="UTF-8"?>
                <svg xmlns="http://www.w3.org/2000/svg" width="\(fmt(pageWidth))mm" height="\(fmt(pageHeight))mm" \
                viewBox="0 0 \(fmt(pageWidth)) \(fmt(pageHeight))" font-family="\(fontFamily)">
                <rect width="\(fmt(pageWidth))" height="\(fmt(pageHeight))" fill="#fff"/>
                \(body)</svg>

                """)
        }
        return pages
    }

    private static func cell(_ sticker: Sticker, x: Double, y: Double, errorCorrection: QRErrorCorrection) throws(QRError) -> String {
        let matrix = try QRMatrix(payload: sticker.payload, errorCorrection: errorCorrection)
        let center = x + cellWidth / 2
        return text(sticker.name, x: center, y: y + 9, size: 5.5, weight: "bold")
            + text("工号 \(sticker.staffId)  窗口 \(sticker.windowId)", x: center, y: y + 14.5, size: 3.5)
            + QRRenderer.svgElement(matrix, x: center - qrSide / 2, y: y + 17, side: qrSide)
            + text("请扫码评价 · 政务服务好差评", x: center, y: y + 65, size: 3, fill: "#333")
            + "\n"
    }

    /// A small cross at every corner of the grid: the cut lines, without drawing over stickers.
    private static func cropMarks() -> String {
        let arm = 3.0
        var d = ""
        for column in 0...columns {
            for row in 0...rows {
                let x = marginX + Double(column) * cellWidth, y = marginY + Double(row) * cellHeight
                d += "M\(fmt(x - arm)) \(fmt(y))h\(fmt(2 * arm))M\(fmt(x)) \(fmt(y - arm))v\(fmt(2 * arm))"
            }
        }
        return "<path d=\"\(d)\" stroke=\"#000\" stroke-width=\"0.15\" fill=\"none\"/>\n"
    }

    private static func text(_ content: String, x: Double, y: Double, size: Double,
                             weight: String = "normal", fill: String = "#000") -> String {
        "<text x=\"\(fmt(x))\" y=\"\(fmt(y))\" font-size=\"\(fmt(size))\" font-weight=\"\(weight)\" "
            + "text-anchor=\"middle\" fill=\"\(fill)\">\(escapeXML(content))</text>"
    }

    static func escapeXML(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    private static func fmt(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
    }
}

/// SVG pages to one PDF through librsvg's `rsvg-convert` (Debian librsvg2-bin), which draws
/// text with fontconfig's fonts and keeps paths as vectors.
public enum SVGToPDF {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Writes `pages` as a multi-page PDF at `output`, atomically: a reader sees the old file or
    /// the whole new one.
    public static func convert(_ pages: [String], to output: String, tool: String = "rsvg-convert") throws(Failure) {
        guard let executable = locate(tool) else {
            throw Failure(description: "\(tool) not found: install the Debian package librsvg2-bin (`apt-get install librsvg2-bin`), or write --output FILE.svg")
        }
        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("pingjia-sheet-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: work) }
        let target = URL(fileURLWithPath: output)
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(target.lastPathComponent).\(getpid()).tmp")
        do {
            try fm.createDirectory(at: work, withIntermediateDirectories: true)
            var files: [String] = []
            for (index, page) in pages.enumerated() {
                let file = work.appendingPathComponent("page-\(index + 1).svg")
                try Data(page.utf8).write(to: file)
                files.append(file.path)
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["-f", "pdf", "-o", partial.path] + files
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                try? fm.removeItem(at: partial)
                throw Failure(description: "\(tool) failed (exit \(process.terminationStatus)): "
                              + String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            }
            guard rename(partial.path, target.path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? fm.removeItem(at: partial)
                throw Failure(description: "cannot write \(output): \(reason)")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            try? fm.removeItem(at: partial)
            throw Failure(description: "cannot write \(output): \(error.localizedDescription)")
        }
    }

    private static func locate(_ name: String) -> String? {
        if name.contains("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

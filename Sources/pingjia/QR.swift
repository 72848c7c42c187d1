import ArgumentParser
import Foundation
import PingjiaInstaller
import PingjiaKiosk
import PingjiaQR

struct QR: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a QR code (a staff member's rating link, or any text), or a sheet of stickers.",
        discussion: """
            pingjia qr --staff A1023 --format png --output A1023.png
            pingjia qr --text "https://example.org" --format text
            pingjia qr sheet --output stickers.pdf     stickers for the whole roster
            """,
        subcommands: [QRCode.self, QRSheet.self],
        defaultSubcommand: QRCode.self
    )
}

struct QRCode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "code",
        abstract: "One QR code: a staff member's rating link, or any text (the default of `pingjia qr`)."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case png, svg, text }

    @Option(help: "Encode this text (UTF-8; Chinese is fine).")
    var text: String?

    @Option(help: "Encode the rating link of the staff member with this 工号 (uses [qr] url_template).")
    var staff: String?

    @Option(help: "png, svg or text (Unicode blocks for a terminal).")
    var format: Format = .text

    @Option(name: .shortAndLong, help: "Where to write it; - for standard output.")
    var output: String = "-"

    @Option(name: .customLong("ec"), help: "Error correction L, M, Q or H (default: the config's, else M).")
    var errorCorrection: String?

    @Option(help: "Pixels per module (PNG) or CSS pixels per module (SVG).")
    var moduleSize: Int = 8

    @Option(help: "Light border, in modules.")
    var quietZone: Int = 4

    @Flag(help: "Text format: draw dark modules as ink (for dark text on a light terminal).")
    var invert = false

    @OptionGroup var state: StateOptions

    func validate() throws {
        if (text == nil) == (staff == nil) { throw ValidationError("give exactly one of --text TEXT or --staff 工号") }
        if let errorCorrection, QRErrorCorrection(rawValue: errorCorrection.uppercased()) == nil {
            throw ValidationError("--ec must be L, M, Q or H")
        }
    }

    func run() async throws {
        do {
            var level = QRErrorCorrection.medium
            let payload: String
            if let staffId = staff {
                let context = try state.open()
                defer { context.close() }
                guard let person = try context.store.staff(id: staffId) else {
                    throw Failure("no staff with 工号 '\(staffId)' in the roster of \(context.location.stateDirectory)")
                }
                payload = context.config.qrURLTemplate.expand(deviceId: context.deviceId, staffId: person.id, windowId: person.windowId)
                level = context.config.qrErrorCorrection
                if let placeholder = PhoneLinkCheck.placeholderProblem(context.config.qrURLTemplate) { throw Failure(placeholder) }
                if let problem = await PhoneLinkCheck.problem(.init(url: payload, staffId: person.id, name: person.name)) {
                    throw Failure(problem)
                }
            } else {
                payload = text ?? ""
            }
            if let errorCorrection, let chosen = QRErrorCorrection(rawValue: errorCorrection.uppercased()) { level = chosen }
            let matrix = try QRMatrix(payload: payload, errorCorrection: level)
            let options = QRRenderOptions(moduleSize: moduleSize, quietZone: quietZone)
            let bytes: [UInt8] = switch format {
            case .png: try QRRenderer.png(matrix, options: options)
            case .svg: Array((QRRenderer.svg(matrix, options: options) + "\n").utf8)
            case .text: Array(QRRenderer.terminalText(matrix, quietZone: min(quietZone, 4), invert: invert).utf8)
            }
            try write(bytes)
            if output != "-" { FileHandle.standardError.write(Data("wrote \(output): \(payload)\n".utf8)) }
        } catch {
            Self.fail(error)
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        if output == "-" {
            if format == .png && isatty(STDOUT_FILENO) != 0 {
                throw Failure("not writing PNG bytes to a terminal: use --output FILE.png, or --format text")
            }
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: output), options: .atomic)
        } catch {
            throw Failure("cannot write \(output): \(error.localizedDescription)")
        }
    }
}

import Foundation
import Testing

/// Failure raised by the helpers; its description is what the test log shows.
struct ToolError: Error, CustomStringConvertible {
    let description: String
}

/// A fresh directory under the system temp dir, removed after `body`.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("PingjiaQRTests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try body(dir)
}

/// Finds `name` on PATH. A missing tool is a test failure, not a skip, so a
/// machine without the decoders can never report a green run.
func locateTool(_ name: String, package: String) throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    throw ToolError(description: "\(name) not found on PATH (Debian package \(package)); run `make deps` and re-run the tests.")
}

struct ToolRun {
    let status: Int32
    let stdout: [UInt8]
    let stderr: String
}

/// Runs a tool with stdout/stderr captured in files in `dir`; files, unlike
/// pipes, cannot deadlock when the tool writes a lot to both streams.
func runTool(_ name: String, package: String, _ arguments: [String], in dir: URL) throws -> ToolRun {
    let process = Process()
    process.executableURL = try locateTool(name, package: package)
    process.arguments = arguments
    let tag = UUID().uuidString
    let outURL = dir.appendingPathComponent("\(tag).stdout")
    let errURL = dir.appendingPathComponent("\(tag).stderr")
    guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
          FileManager.default.createFile(atPath: errURL.path, contents: nil) else {
        throw ToolError(description: "cannot create output files in \(dir.path); check the temp directory is writable.")
    }
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try out.close()
    try err.close()
    return ToolRun(
        status: process.terminationStatus,
        stdout: Array(try Data(contentsOf: outURL)),
        stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
}

/// Decodes the single QR code in an image file and returns its exact bytes.
///
/// `-Sbinary` stops zbar from guessing a charset for 8-bit-mode data. Without
/// it zbar 0.23 takes short UTF-8 Chinese such as "窗口" for Shift-JIS and
/// prints mojibake, turns non-UTF-8 bytes into Latin-1 UTF-8, and appends a
/// newline; in binary mode it prints exactly the encoded bytes.
func decodeQR(_ image: URL, in dir: URL) throws -> [UInt8] {
    let run = try runTool("zbarimg", package: "zbar-tools",
                          ["--raw", "-q", "--nodbus", "-Sbinary", image.path], in: dir)
    guard run.status == 0 else {
        let why = run.status == 4 ? "no QR code found" : "exit status \(run.status)"
        throw ToolError(description: "zbarimg could not decode \(image.lastPathComponent): \(why). \(run.stderr)")
    }
    return run.stdout
}

/// Rasterises an SVG with librsvg, the same engine browsers' output is close to.
func rasteriseSVG(_ svg: URL, to png: URL, in dir: URL) throws {
    let run = try runTool("rsvg-convert", package: "librsvg2-bin", ["-o", png.path, svg.path], in: dir)
    guard run.status == 0 else {
        throw ToolError(description: "rsvg-convert failed on \(svg.lastPathComponent) (exit \(run.status)): \(run.stderr)")
    }
}

/// Writes `bytes` to a file in a fresh temp dir and decodes it with zbarimg.
func decodePNG(_ png: [UInt8]) throws -> [UInt8] {
    try withTemporaryDirectory { dir in
        let file = dir.appendingPathComponent("code.png")
        try Data(png).write(to: file)
        return try decodeQR(file, in: dir)
    }
}

/// Rasterises the SVG with rsvg-convert, then decodes it with zbarimg.
func decodeSVG(_ svg: String) throws -> [UInt8] {
    try withTemporaryDirectory { dir in
        let source = dir.appendingPathComponent("code.svg")
        let raster = dir.appendingPathComponent("code.png")
        try Data(svg.utf8).write(to: source)
        try rasteriseSVG(source, to: raster, in: dir)
        return try decodeQR(raster, in: dir)
    }
}

/// Decodes a binary PGM (P5) image of `width`×`height` gray pixels.
func decodePGM(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
    try withTemporaryDirectory { dir in
        let file = dir.appendingPathComponent("code.pgm")
        try (Data("P5\n\(width) \(height)\n255\n".utf8) + Data(pixels)).write(to: file)
        return try decodeQR(file, in: dir)
    }
}

/// Decoded bytes that print as a quoted string (or hex if not UTF-8), so a
/// failed comparison shows readable text instead of two long number arrays.
struct Bytes: Equatable, CustomTestStringConvertible {
    let raw: [UInt8]
    init(_ raw: [UInt8]) { self.raw = raw }
    init(_ text: String) { raw = Array(text.utf8) }

    var testDescription: String {
        if let text = String(validating: raw, as: UTF8.self) { return text.debugDescription }
        return raw.map { String($0, radix: 16) }.joined(separator: " ")
    }
}

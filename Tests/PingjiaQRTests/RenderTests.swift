import Foundation
import Testing
@testable import PingjiaQR

/// Width and height from the IHDR chunk, which libpng always writes first.
private func pngHeader(_ png: [UInt8]) -> (width: Int, height: Int, bitDepth: UInt8, colorType: UInt8)? {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    guard png.count > 33, Array(png[0..<8]) == signature, Array(png[12..<16]) == Array("IHDR".utf8) else { return nil }
    func be32(_ at: Int) -> Int { png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (be32(16), be32(20), png[24], png[25])
}

@Suite("Rendering")
struct RenderTests {
    @Test("PNG side is (size + 2·quietZone)·moduleSize",
          arguments: [(8, 4), (1, 0), (3, 1), (10, 2), (5, 0)])
    func pngDimensions(moduleSize: Int, quietZone: Int) throws {
        let m = try QRMatrix(payload: Sample.asciiURL.text)
        let png = try QRRenderer.png(m, options: .init(moduleSize: moduleSize, quietZone: quietZone))
        let header = try #require(pngHeader(png), "not a PNG")
        let side = (m.size + 2 * quietZone) * moduleSize
        #expect(header.width == side)
        #expect(header.height == side)
        #expect(header.bitDepth == 8)
        #expect(header.colorType == 0)   // grayscale
        #expect(Array(png.suffix(8)) == [0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])   // IEND + CRC
    }

    @Test func defaultOptions() {
        #expect(QRRenderOptions() == QRRenderOptions(moduleSize: 8, quietZone: 4))
    }

    /// zbar still finds a code with no quiet zone once the PNG is placed on
    /// a white page, which is how a borderless image is used in HTML.
    @Test func quietZoneZeroIsAValidImage() throws {
        let m = try QRMatrix(payload: Sample.asciiURL.text)
        let png = try QRRenderer.png(m, options: .init(moduleSize: 4, quietZone: 0))
        let header = try #require(pngHeader(png))
        #expect(header.width == m.size * 4)
        let decoded = try decodeSVG("""
            <svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="\(header.width + 64)" height="\(header.width + 64)">\
            <rect width="100%" height="100%" fill="#fff"/>\
            <image x="32" y="32" width="\(header.width)" height="\(header.width)" xlink:href="data:image/png;base64,\(Data(png).base64EncodedString())"/></svg>
            """)
        #expect(Bytes(decoded) == Bytes(Sample.asciiURL.text))
    }

    @Test func svgPathCoversExactlyTheDarkModules() throws {
        let m = try QRMatrix(payload: Sample.chinese.text)
        let svg = QRRenderer.svg(m, options: .init(moduleSize: 1, quietZone: 0))
        var dark = Set<[Int]>()
        for run in svg.split(separator: "M").dropFirst() {
            let parts = run.split(whereSeparator: { "hvz ".contains($0) })
            guard parts.count >= 3, let x = Int(parts[0]), let y = Int(parts[1]), let w = Int(parts[2]) else { continue }
            for dx in 0..<w { dark.insert([x + dx, y]) }
        }
        for y in 0..<m.size {
            for x in 0..<m.size {
                #expect(dark.contains([x, y]) == m.isDark(x: x, y: y), "module (\(x),\(y))")
            }
        }
    }

    @Test func svgShape() throws {
        let m = try QRMatrix(payload: Sample.asciiURL.text)
        let svg = QRRenderer.svg(m, options: .init(moduleSize: 3, quietZone: 2))
        let n = m.size + 4
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>"))
        #expect(!svg.contains("<?xml"))
        #expect(svg.contains("viewBox=\"0 0 \(n) \(n)\""))
        #expect(svg.contains("width=\"\(n * 3)\" height=\"\(n * 3)\""))
        #expect(svg.contains("shape-rendering=\"crispEdges\""))
        #expect(svg.contains("<rect width=\"\(n)\" height=\"\(n)\" fill=\"#fff\"/>"))
        #expect(svg.components(separatedBy: "<path").count == 2)
        // Merged runs: the 7-module top edge of the first finder is one segment.
        #expect(svg.contains("M2 2h7v1h-7z"))
        #expect(!svg.contains("\n"))
    }

    @Test func svgClampsInvalidOptions() throws {
        let m = try QRMatrix(payload: "x")
        let svg = QRRenderer.svg(m, options: .init(moduleSize: 0, quietZone: -5))
        #expect(svg.contains("viewBox=\"0 0 \(m.size) \(m.size)\""))
        #expect(svg.contains("width=\"\(m.size)\""))
        // Absurd values are clamped rather than overflowing.
        let huge = QRRenderer.svg(m, options: .init(moduleSize: Int.max, quietZone: Int.max))
        #expect(huge.contains("viewBox=\"0 0 \(m.size + 2000) \(m.size + 2000)\""))
        #expect(huge.contains("width=\"\((m.size + 2000) * 1000)\""))
    }
}

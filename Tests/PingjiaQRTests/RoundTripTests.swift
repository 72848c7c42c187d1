import Testing
@testable import PingjiaQR

@Suite("Round trips through zbarimg")
struct RoundTripTests {
    @Test func longURLIsExactly300Characters() {
        #expect(Sample.longURL.text.count == 300)
        #expect(Sample.longURL.text.utf8.count == 300)
    }

    @Test("PNG decodes to the exact payload", arguments: Sample.all, QRErrorCorrection.allCases)
    func pngRoundTrip(sample: Sample, level: QRErrorCorrection) throws {
        let matrix = try QRMatrix(payload: sample.text, errorCorrection: level)
        let decoded = try decodePNG(QRRenderer.png(matrix))
        #expect(Bytes(decoded) == Bytes(sample.text))
    }

    @Test("SVG rasterised by rsvg-convert decodes to the exact payload", arguments: Sample.all)
    func svgRoundTrip(sample: Sample) throws {
        let matrix = try QRMatrix(payload: sample.text)
        let decoded = try decodeSVG(QRRenderer.svg(matrix))
        #expect(Bytes(decoded) == Bytes(sample.text))
    }

    @Test("Short Chinese payloads keep their UTF-8 bytes", arguments: Sample.shortChinese)
    func shortChineseRoundTrip(sample: Sample) throws {
        let decoded = try decodePNG(QRRenderer.png(QRMatrix(payload: sample.text)))
        #expect(Bytes(decoded) == Bytes(sample.text))
    }

    @Test("Arbitrary bytes survive in 8-bit mode")
    func binaryRoundTrip() throws {
        let bytes: [UInt8] = Array(0...255)
        let decoded = try decodePNG(QRRenderer.png(QRMatrix(bytes: bytes, errorCorrection: .low)))
        #expect(Bytes(decoded) == Bytes(bytes))
    }

    @Test("A payload of exactly the level's capacity fits in version 40 and decodes", arguments: QRErrorCorrection.allCases)
    func fullCapacity(level: QRErrorCorrection) throws {
        let filler = Array("https://pingjia.invalid/".utf8)
        let bytes = (0..<level.maxPayloadBytes).map { filler[$0 % filler.count] }
        let matrix = try QRMatrix(bytes: bytes, errorCorrection: level)
        #expect(matrix.version == 40)
        #expect(matrix.size == 177)
        #expect(try Bytes(decodePNG(QRRenderer.png(matrix, options: .init(moduleSize: 4)))) == Bytes(bytes))
    }
}

import Testing
@testable import PingjiaQR

@Suite("QRMatrix")
struct MatrixTests {
    /// The 7×7 finder pattern: dark ring, light ring, dark 3×3 centre.
    static func finderIsDark(_ x: Int, _ y: Int) -> Bool {
        let ring = max(abs(x - 3), abs(y - 3))
        return ring != 2
    }

    @Test func finderPatternsSitInThreeCorners() throws {
        let m = try QRMatrix(payload: Sample.asciiURL.text)
        let origins = [(0, 0), (m.size - 7, 0), (0, m.size - 7)]
        for (ox, oy) in origins {
            for y in 0..<7 {
                for x in 0..<7 {
                    #expect(m.isDark(x: ox + x, y: oy + y) == Self.finderIsDark(x, y), "finder at (\(ox),\(oy)) module (\(x),\(y))")
                }
            }
        }
        // The bottom-right corner has no finder pattern.
        let corner = (0..<7).flatMap { y in (0..<7).map { x in m.isDark(x: m.size - 7 + x, y: m.size - 7 + y) } }
        #expect(corner != (0..<49).map { Self.finderIsDark($0 % 7, $0 / 7) })
    }

    @Test func smallestVersionIsChosen() throws {
        #expect(try QRMatrix(payload: "A", errorCorrection: .low).size == 21)
        let m = try QRMatrix(payload: Sample.asciiURL.text)
        #expect(m.size == 17 + 4 * m.version)
        #expect(m.version == 3)   // 40 bytes at M needs version 3 (capacity 42)
    }

    @Test func sizeGrowsWithErrorCorrection() throws {
        let sizes = try QRErrorCorrection.allCases.map { try QRMatrix(payload: Sample.longURL.text, errorCorrection: $0).size }
        #expect(sizes == sizes.sorted())
        #expect(sizes.first! < sizes.last!)
    }

    @Test func equalityFollowsPayloadAndLevel() throws {
        let url = Sample.asciiURL.text
        #expect(try QRMatrix(payload: url) == QRMatrix(bytes: Array(url.utf8)))
        #expect(try QRMatrix(payload: url) == QRMatrix(payload: url, errorCorrection: .medium))
        #expect(try QRMatrix(payload: url) != QRMatrix(payload: url, errorCorrection: .high))
        #expect(try QRMatrix(payload: url) != QRMatrix(payload: url.uppercased()))
    }

    @Test func outsideTheSymbolIsLight() throws {
        let m = try QRMatrix(payload: "x")
        #expect(m.isDark(x: 0, y: 0))
        for (x, y) in [(-1, 0), (0, -1), (m.size, 0), (0, m.size), (Int.min, Int.max)] {
            #expect(!m.isDark(x: x, y: y))
        }
    }

    @Test func errorCorrectionCodesMatchTheSpecLetters() throws {
        #expect(QRErrorCorrection.allCases.map(\.rawValue) == ["L", "M", "Q", "H"])
        #expect(QRErrorCorrection(rawValue: "Q") == .quartile)
    }
}

import Testing
@testable import PingjiaQR

/// Turns half-block text back into rows of ink flags (top half, then bottom
/// half, of each line), or nil if it contains anything but the four glyphs.
private func inkRows(_ text: String) -> [[Bool]]? {
    var rows: [[Bool]] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
        var top: [Bool] = [], bottom: [Bool] = []
        for ch in line {
            switch ch {
            case "█": top.append(true); bottom.append(true)
            case "▀": top.append(true); bottom.append(false)
            case "▄": top.append(false); bottom.append(true)
            case " ": top.append(false); bottom.append(false)
            default: return nil
            }
        }
        rows += [top, bottom]
    }
    return rows
}

@Suite("Terminal text")
struct TerminalTextTests {
    @Test("Half blocks decode back to the payload", arguments: [false, true], Sample.all)
    func roundTrip(invert: Bool, sample: Sample) throws {
        let m = try QRMatrix(payload: sample.text)
        let quiet = 2
        let text = QRRenderer.terminalText(m, quietZone: quiet, invert: invert)
        let n = m.size + 2 * quiet
        #expect(text.hasSuffix("\n"))
        let rows = try #require(inkRows(text), "unexpected characters in terminal text")
        #expect(rows.count == n + 1, "two module rows per line; the odd last row gets an empty bottom half")
        #expect(rows.allSatisfy { $0.count == n })
        #expect(rows.last?.contains(true) == false, "the padding half row must be plain background")

        // Ink is light by default (light text on a dark terminal), dark with invert.
        let moduleIsDark = rows.prefix(n).map { $0.map { $0 == invert } }
        for y in 0..<n {
            for x in 0..<n {
                #expect(moduleIsDark[y][x] == m.isDark(x: x - quiet, y: y - quiet), "module (\(x - quiet),\(y - quiet))")
            }
        }

        // Rasterise as a screen would show it: the terminal background (the
        // no-ink colour) surrounds the text, so only the text's own quiet zone
        // separates the code from it.
        let scale = 4, margin = 4
        let side = (n + 2 * margin) * scale
        let background: UInt8 = invert ? 255 : 0
        var pixels = [UInt8](repeating: background, count: side * side)
        for y in 0..<rows.count {
            for x in 0..<n {
                let value: UInt8 = moduleIsDark.indices.contains(y) ? (moduleIsDark[y][x] ? 0 : 255) : background
                for py in 0..<scale {
                    let start = ((y + margin) * scale + py) * side + (x + margin) * scale
                    for px in 0..<scale { pixels[start + px] = value }
                }
            }
        }
        #expect(try Bytes(decodePGM(pixels, width: side, height: side)) == Bytes(sample.text))
    }

    @Test func invertSwapsInk() throws {
        let m = try QRMatrix(payload: "x")
        let normal = QRRenderer.terminalText(m, quietZone: 2)
        let inverted = QRRenderer.terminalText(m, quietZone: 2, invert: true)
        let a = try #require(inkRows(normal)), b = try #require(inkRows(inverted))
        let n = m.size + 4
        for y in 0..<n {
            #expect(a[y] == b[y].map { !$0 })
        }
        // The first line is two quiet-zone rows, which are light: full ink by
        // default, blank when inverted.
        #expect(normal.hasPrefix(String(repeating: "█", count: n) + "\n"))
        #expect(inverted.hasPrefix(String(repeating: " ", count: n) + "\n"))
    }

    @Test func quietZoneIsClamped() throws {
        let m = try QRMatrix(payload: "x")
        #expect(QRRenderer.terminalText(m, quietZone: -3) == QRRenderer.terminalText(m, quietZone: 0))
        #expect(QRRenderer.terminalText(m, quietZone: Int.min) == QRRenderer.terminalText(m, quietZone: 0))
        #expect(QRRenderer.terminalText(m, quietZone: Int.max) == QRRenderer.terminalText(m, quietZone: 1000))
        let lines = QRRenderer.terminalText(m, quietZone: 0).split(separator: "\n")
        #expect(lines.count == (m.size + 1) / 2)
        #expect(lines.allSatisfy { $0.count == m.size })
    }
}

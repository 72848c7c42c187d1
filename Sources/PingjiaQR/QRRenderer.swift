import CPNG

public enum QRRenderer {
    /// 8-bit grayscale PNG: black modules on white.
    public static func png(_ m: QRMatrix, options: QRRenderOptions = .init()) throws(QRError) -> [UInt8] {
        let side = try options.imageSide(for: m)
        let scale = options.moduleSize, q = options.quietZone
        var pixels = [UInt8](repeating: 255, count: side * side)
        // One pixel row per module row, then copied to the module's other pixel rows.
        pixels.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for y in 0..<m.size {
                let first = base + (y + q) * scale * side
                for x in 0..<m.size where m.isDark(x: x, y: y) {
                    (first + (x + q) * scale).update(repeating: 0, count: scale)
                }
                for row in 1..<scale { (first + row * side).update(from: first, count: side) }
            }
        }
        return try encodePNG(gray: pixels, side: side)
    }

    /// Self-contained SVG for inlining in HTML. Options are clamped to
    /// 1...1000 (moduleSize) and 0...1000 (quietZone) instead of throwing,
    /// because a vector image has no pixel budget worth failing over, yet
    /// absurd input must not trap on overflow.
    public static func svg(_ m: QRMatrix, options: QRRenderOptions = .init()) -> String {
        let q = clamp(options.quietZone, 0), scale = clamp(options.moduleSize, 1)
        let n = m.size + 2 * q
        let pixels = n * scale
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(n) \(n)" width="\(pixels)" height="\(pixels)" shape-rendering="crispEdges">\
            <rect width="\(n)" height="\(n)" fill="#fff"/><path fill="#000" d="\(pathData(m, quietZone: q))"/></svg>
            """
    }

    /// The symbol as an SVG element to nest in a larger drawing (a sticker sheet): a square of
    /// side `side` user units at (`x`, `y`), quiet zone included.
    public static func svgElement(_ m: QRMatrix, x: Double, y: Double, side: Double, quietZone: Int = 4) -> String {
        let q = clamp(quietZone, 0)
        let n = m.size + 2 * q
        return "<svg x=\"\(x)\" y=\"\(y)\" width=\"\(side)\" height=\"\(side)\" viewBox=\"0 0 \(n) \(n)\" shape-rendering=\"crispEdges\">"
            + "<rect width=\"\(n)\" height=\"\(n)\" fill=\"#fff\"/><path fill=\"#000\" d=\"\(pathData(m, quietZone: q))\"/></svg>"
    }

    /// One path with horizontal runs keeps the markup small and avoids the hairline seams that
    /// per-module rects show when scaled.
    private static func pathData(_ m: QRMatrix, quietZone q: Int) -> String {
        var d = ""
        for y in 0..<m.size {
            var x = 0
            while x < m.size {
                guard m.isDark(x: x, y: y) else { x += 1; continue }
                let start = x
                while x < m.size, m.isDark(x: x, y: y) { x += 1 }
                let run = x - start
                d += "M\(start + q) \(y + q)h\(run)v1h-\(run)z"
            }
        }
        return d
    }

    /// Half-block text, two module rows per line. By default light modules
    /// are ink, because terminals usually draw light text on a dark
    /// background and scanners need dark modules on light (as `qrencode -t UTF8`).
    /// quietZone is clamped to 0...1000, like `svg`.
    public static func terminalText(_ m: QRMatrix, quietZone: Int = 2, invert: Bool = false) -> String {
        let q = clamp(quietZone, 0)
        let n = m.size + 2 * q
        // Rows past the bottom edge are never ink, so an odd last row is a
        // top half block over plain background.
        func ink(_ x: Int, _ y: Int) -> Bool {
            guard y < n else { return false }
            return m.isDark(x: x - q, y: y - q) == invert
        }
        var out = ""
        for y in stride(from: 0, to: n, by: 2) {
            for x in 0..<n {
                switch (ink(x, y), ink(x, y + 1)) {
                case (true, true): out += "█"
                case (true, false): out += "▀"
                case (false, true): out += "▄"
                case (false, false): out += " "
                }
            }
            out += "\n"
        }
        return out
    }

    private static func clamp(_ value: Int, _ lowest: Int) -> Int {
        min(max(lowest, value), 1000)
    }

    private static func encodePNG(gray pixels: [UInt8], side: Int) throws(QRError) -> [UInt8] {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(side)
        image.height = png_uint_32(side)
        image.format = png_uint_32(PNG_FORMAT_GRAY)
        defer { png_image_free(&image) }

        // One pass into a buffer that fits a QR code's PNG (long runs of one value compress to a
        // small fraction of side²); only if it does not, libpng says how much is needed and we
        // write again.
        var length = png_alloc_size_t(side * side / 8 + 4096)
        var out = [UInt8](repeating: 0, count: Int(length))
        var ok = out.withUnsafeMutableBytes { buf in
            png_image_write_to_memory(&image, buf.baseAddress, &length, 0, pixels, 0, nil)
        }
        if ok == 0 && Int(length) > out.count {
            out = [UInt8](repeating: 0, count: Int(length))
            ok = out.withUnsafeMutableBytes { buf in
                png_image_write_to_memory(&image, buf.baseAddress, &length, 0, pixels, 0, nil)
            }
        }
        guard ok != 0 else { throw .pngFailed(message(of: &image)) }
        out.removeLast(out.count - Int(length))
        return out
    }

    private static func message(of image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "unknown libpng error" : text
    }
}

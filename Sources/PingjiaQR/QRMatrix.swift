import CQRencode
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum QRErrorCorrection: String, CaseIterable, Sendable, Codable {
    case low = "L", medium = "M", quartile = "Q", high = "H"

    /// Largest 8-bit-mode payload that fits in a version 40 symbol (ISO/IEC 18004
    /// table 7). Checked up front so callers get an exact, actionable limit
    /// instead of libqrencode's bare ERANGE.
    public var maxPayloadBytes: Int {
        switch self {
        case .low: 2953
        case .medium: 2331
        case .quartile: 1663
        case .high: 1273
        }
    }

    var cLevel: QRecLevel {
        switch self {
        case .low: QR_ECLEVEL_L
        case .medium: QR_ECLEVEL_M
        case .quartile: QR_ECLEVEL_Q
        case .high: QR_ECLEVEL_H
        }
    }
}

/// A QR symbol as a square grid of modules, without quiet zone.
public struct QRMatrix: Sendable, Equatable {
    /// Modules per side, without quiet zone.
    public let size: Int
    /// Row-major, `true` = dark.
    private let modules: [Bool]

    /// Encodes the UTF-8 bytes in 8-bit mode, so any text (including Chinese)
    /// round-trips byte for byte and case is preserved.
    public init(payload: String, errorCorrection: QRErrorCorrection = .medium) throws(QRError) {
        try self.init(bytes: Array(payload.utf8), errorCorrection: errorCorrection)
    }

    public init(bytes: [UInt8], errorCorrection: QRErrorCorrection = .medium) throws(QRError) {
        guard !bytes.isEmpty else { throw .emptyPayload }
        let max = errorCorrection.maxPayloadBytes
        guard bytes.count <= max else {
            throw .payloadTooLong(bytes: bytes.count, maxBytes: max, errorCorrection: errorCorrection)
        }
        // Version 0 lets libqrencode pick the smallest symbol that fits.
        let result: (code: UnsafeMutablePointer<QRcode>?, errno: Int32) = bytes.withUnsafeBufferPointer { buf in
            let code = QRcode_encodeData(Int32(buf.count), buf.baseAddress, 0, errorCorrection.cLevel)
            return (code, code == nil ? errno : 0)
        }
        guard let code = result.code else {
            // ERANGE should be unreachable after the check above, but if the
            // library's capacity ever differs, still give the actionable error.
            if result.errno == ERANGE {
                throw .payloadTooLong(bytes: bytes.count, maxBytes: max, errorCorrection: errorCorrection)
            }
            throw .encoderFailed(String(cString: strerror(result.errno)))
        }
        defer { QRcode_free(code) }

        let width = Int(code.pointee.width)
        guard width > 0, let data = code.pointee.data else {
            throw .encoderFailed("library returned an empty symbol")
        }
        // Bit 0 of each byte is the dark bit; the other bits only describe
        // which pattern the module belongs to.
        self.init(size: width, modules: UnsafeBufferPointer(start: data, count: width * width).map { $0 & 1 != 0 })
    }

    init(size: Int, modules: [Bool]) {
        precondition(modules.count == size * size, "module count must be size²")
        self.size = size
        self.modules = modules
    }

    /// QR version (1...40), derived from the size.
    public var version: Int { (size - 17) / 4 }

    /// Out-of-range coordinates read as light, because everything around a
    /// symbol is quiet zone; renderers rely on this instead of bounds checks.
    public func isDark(x: Int, y: Int) -> Bool {
        guard x >= 0, y >= 0, x < size, y < size else { return false }
        return modules[y * size + x]
    }
}

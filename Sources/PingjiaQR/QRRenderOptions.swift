public struct QRRenderOptions: Sendable, Equatable {
    /// Pixels per module in PNG output; SVG output uses it for width/height.
    public var moduleSize: Int
    /// Light border, in modules, on every side. The spec asks for 4; scanners
    /// often cope with less, but not always.
    public var quietZone: Int

    /// Keeps a PNG's raw pixel buffer (side² bytes) to at most 64 MiB.
    public static let maxImageSide = 8192

    public init(moduleSize: Int = 8, quietZone: Int = 4) {
        self.moduleSize = moduleSize
        self.quietZone = quietZone
    }

    /// Image side in pixels for a matrix, or why these options cannot render it.
    public func imageSide(for matrix: QRMatrix) throws(QRError) -> Int {
        guard moduleSize >= 1 else {
            throw .invalidRenderOptions("moduleSize is \(moduleSize) but must be at least 1")
        }
        guard quietZone >= 0 else {
            throw .invalidRenderOptions("quietZone is \(quietZone) but must be 0 or more")
        }
        // Overflow-checked because options may come straight from user input.
        let (modules, o1) = quietZone.multipliedReportingOverflow(by: 2)
        let (total, o2) = modules.addingReportingOverflow(matrix.size)
        let (side, o3) = total.multipliedReportingOverflow(by: moduleSize)
        guard !o1, !o2, !o3, side <= Self.maxImageSide else {
            throw .invalidRenderOptions("image would exceed \(Self.maxImageSide) px per side; use a smaller moduleSize or quietZone")
        }
        return side
    }
}

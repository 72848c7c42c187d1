import Testing
@testable import PingjiaQR

@Suite("Errors")
struct ErrorTests {
    @Test func tooLongPayloadSaysHowLongAndWhatToDo() throws {
        let payload = String(repeating: "a", count: 3000)
        let error = #expect(throws: QRError.self) { try QRMatrix(payload: payload, errorCorrection: .high) }
        #expect(error == .payloadTooLong(bytes: 3000, maxBytes: 1273, errorCorrection: .high))
        let message = error?.description ?? ""
        for fragment in ["3000 bytes", "1273", "level H", "shorten the URL", "lower the error-correction level"] {
            #expect(message.contains(fragment), "missing \(fragment) in: \(message)")
        }
    }

    @Test("One byte over capacity is rejected", arguments: QRErrorCorrection.allCases)
    func oneOverCapacity(level: QRErrorCorrection) {
        let bytes = [UInt8](repeating: 0x41, count: level.maxPayloadBytes + 1)
        #expect(throws: QRError.payloadTooLong(bytes: bytes.count, maxBytes: level.maxPayloadBytes, errorCorrection: level)) {
            try QRMatrix(bytes: bytes, errorCorrection: level)
        }
    }

    @Test func capacityCountsUTF8BytesNotCharacters() {
        let text = String(repeating: "评", count: 500)   // 1500 bytes
        #expect(throws: QRError.payloadTooLong(bytes: 1500, maxBytes: 1273, errorCorrection: .high)) {
            try QRMatrix(payload: text, errorCorrection: .high)
        }
    }

    @Test func emptyPayload() {
        #expect(throws: QRError.emptyPayload) { try QRMatrix(payload: "") }
        #expect(throws: QRError.emptyPayload) { try QRMatrix(bytes: []) }
    }

    @Test("Invalid render options are rejected",
          arguments: [(0, 4), (-3, 4), (8, -1), (Int.max, 4), (8, Int.max), (300, 4)])
    func invalidRenderOptions(moduleSize: Int, quietZone: Int) throws {
        let m = try QRMatrix(payload: Sample.asciiURL.text)
        let error = #expect(throws: QRError.self) {
            _ = try QRRenderer.png(m, options: .init(moduleSize: moduleSize, quietZone: quietZone))
        }
        guard case .invalidRenderOptions = error else {
            Issue.record("expected invalidRenderOptions, got \(String(describing: error))")
            return
        }
    }

    @Test func moduleSizeZeroNamesTheProblem() throws {
        let m = try QRMatrix(payload: "x")
        #expect(throws: QRError.invalidRenderOptions("moduleSize is 0 but must be at least 1")) {
            _ = try QRRenderer.png(m, options: .init(moduleSize: 0))
        }
    }

    @Test func messagesAreOneLine() {
        let errors: [QRError] = [
            .emptyPayload, .payloadTooLong(bytes: 2, maxBytes: 1, errorCorrection: .low),
            .encoderFailed("Cannot allocate memory"), .pngFailed("png_image_write_: out of memory"),
            .invalidRenderOptions("moduleSize is 0 but must be at least 1"),
        ]
        for error in errors {
            #expect(!error.description.contains("\n"))
            #expect(!error.description.isEmpty)
        }
    }
}

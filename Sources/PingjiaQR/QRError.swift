/// Everything that can go wrong between a payload and a rendered code.
/// Messages are a single line and end with what the caller should do next,
/// because they are shown to operators, not developers.
public enum QRError: Error, Equatable, CustomStringConvertible {
    case emptyPayload
    case payloadTooLong(bytes: Int, maxBytes: Int, errorCorrection: QRErrorCorrection)
    /// libqrencode returned NULL; carries the errno text.
    case encoderFailed(String)
    /// libpng's simplified API reported a failure; carries libpng's message.
    case pngFailed(String)
    case invalidRenderOptions(String)

    public var description: String {
        switch self {
        case .emptyPayload:
            return "QR payload is empty; provide the URL or text to encode."
        case let .payloadTooLong(bytes, maxBytes, level):
            return "QR payload is \(bytes) bytes but at most \(maxBytes) fit at error-correction level \(level.rawValue); shorten the URL or lower the error-correction level."
        case let .encoderFailed(reason):
            return "QR encoder (libqrencode) failed: \(reason); check the payload and available memory, then retry."
        case let .pngFailed(reason):
            return "PNG encoding (libpng) failed: \(reason); try a smaller module size or quiet zone."
        case let .invalidRenderOptions(reason):
            return "Invalid QR render options: \(reason)."
        }
    }
}

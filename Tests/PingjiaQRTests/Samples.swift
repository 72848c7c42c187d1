import Testing

/// A named payload, so parameterised test names stay readable.
struct Sample: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    var testDescription: String { name }

    static let asciiURL = Sample(name: "ASCII URL", text: "https://pingjia.invalid/r/dev-0001/A1023")

    /// Mixed case on purpose: 8-bit mode must not upper-case anything.
    static let longURL: Sample = {
        let base = "https://pingjia.invalid/r/dev-0001/A1023?ref="
        let filler = Array("AbCdEfGhIj0123456789-_xYz")
        let tail = (0..<(300 - base.count)).map { filler[$0 % filler.count] }
        return Sample(name: "300-char URL", text: base + String(tail))
    }()

    static let chinese = Sample(name: "Chinese UTF-8", text: "政务服务好差评 窗口3 张三 工号A1023")

    static let all = [asciiURL, longURL, chinese]

    /// Short Chinese strings whose UTF-8 bytes zbar 0.23 mistakes for
    /// Shift-JIS unless told to return binary.
    static let shortChinese = [
        Sample(name: "窗口", text: "窗口"),
        Sample(name: "政务", text: "政务"),
        Sample(name: "好", text: "好"),
    ]
}

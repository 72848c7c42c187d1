/// Rules for the identifiers that travel in URLs, QR codes, CSV files and the hub's keys.
public enum Identifier {
    /// 工号, window and device ids: 1-64 ASCII letters, digits, '.', '_' or '-', so they are safe
    /// in a URL path, a file name and a CSV cell without any escaping.
    public static func isValidID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                return true
            default:
                return false
            }
        }
    }

    public static let idRule = "1-64 ASCII letters, digits, '.', '_' or '-'"

    /// Names of scales, reasons and flags: 1-32 lowercase ASCII letters, digits or '-'.
    public static func isSlug(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 32 && text.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
        }
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}

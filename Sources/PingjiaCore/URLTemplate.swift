import Foundation

/// The link behind a staff member's QR code, e.g. `https://hub.example/r/{deviceId}/{staffId}`.
///
/// Kept as a template in the config so stickers can point at whichever hub a province runs,
/// without a new build; placeholders are checked when the config is loaded, not when printing.
public struct URLTemplate: Sendable, Hashable, CustomStringConvertible {
    public static let placeholders = ["deviceId", "staffId", "windowId"]
    public static let `default` = URLTemplate(unchecked: "https://pingjia.invalid/r/{deviceId}/{staffId}")

    public let template: String

    public init(_ template: String) throws(RatingError) {
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw .invalidField("URL template", reason: "'{' without a closing '}' in \(template)")
            }
            let name = String(rest[rest.index(after: open)..<close])
            guard URLTemplate.placeholders.contains(name) else {
                throw .invalidField("URL template", reason: "unknown placeholder {\(name)}: use "
                    + URLTemplate.placeholders.map { "{\($0)}" }.joined(separator: ", "))
            }
            rest = rest[rest.index(after: close)...]
        }
        guard template.hasPrefix("https://") || template.hasPrefix("http://") else {
            throw .invalidField("URL template", reason: "must start with https:// (or http:// for a test hub): \(template)")
        }
        self.template = template
    }

    private init(unchecked: String) { template = unchecked }

    /// Ids are already URL-safe (`Identifier.isValidID`), so they are inserted as they are.
    public func expand(deviceId: String, staffId: String, windowId: String) -> String {
        template
            .replacingOccurrences(of: "{deviceId}", with: deviceId)
            .replacingOccurrences(of: "{staffId}", with: staffId)
            .replacingOccurrences(of: "{windowId}", with: windowId)
    }

    /// The shipped default, or any link to a `.invalid` host (RFC 2606): nothing answers it, so
    /// nothing should be printed with it.
    public var isPlaceholder: Bool {
        guard let host = URL(string: expand(deviceId: "d", staffId: "s", windowId: "w"))?.host else { return true }
        return host == "invalid" || host.hasSuffix(".invalid")
    }

    public var description: String { template }
}

/// What a citizen chose (a level, and for a bad one reasons and a comment), checked against the
/// scale before the session engine decides anything or the store writes anything. The one set of
/// rules for the keypad, the touch terminal and page, the local API and `pingjia rate`.
public struct RatingChoice: Sendable, Hashable {
    /// Longest comment kept: a touch screen's on-screen keyboard, not a letter.
    public static let maxComment = 300

    public let scale: Scale
    public let level: ScaleLevel
    public let reasons: [String]
    /// Trimmed; nil when nothing is left.
    public let comment: String?

    public init(scale: Scale, level value: Int, reasons: [String] = [], comment: String? = nil) throws(RatingError) {
        guard let level = scale.level(value) else {
            throw .unknownLevel(value, scale: scale.name, known: scale.levels.map(\.value))
        }
        let (reasons, comment) = try Self.check(scale: scale, reasons: reasons, comment: comment)
        if !reasons.isEmpty && !level.isBad {
            throw .reasonsOnGoodRating(level: value, bad: scale.levels.filter(\.isBad).map(\.value))
        }
        self.scale = scale
        self.level = level
        self.reasons = reasons
        self.comment = comment
    }

    /// The reasons and comment that follow a bad rating (`KioskContext.addReasons`).
    public static func followUp(scale: Scale, reasons: [String], comment: String?) throws(RatingError) -> (reasons: [String], comment: String?) {
        let checked = try check(scale: scale, reasons: reasons, comment: comment)
        if checked.reasons.isEmpty && checked.comment == nil { throw .nothingToAdd }
        return checked
    }

    private static func check(scale: Scale, reasons: [String], comment: String?) throws(RatingError) -> (reasons: [String], comment: String?) {
        var seen: Set<String> = []
        for reason in reasons {
            guard scale.reason(reason) != nil else {
                throw .unknownReason(reason, scale: scale.name, known: scale.reasons.map(\.code))
            }
            guard seen.insert(reason).inserted else { throw .reasonTwice(reason) }
        }
        let trimmed = comment.map { String($0.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()) }
        if let trimmed, trimmed.count > maxComment { throw .commentTooLong(max: maxComment) }
        return (reasons, (trimmed?.isEmpty ?? true) ? nil : trimmed)
    }
}

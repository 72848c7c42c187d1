import PingjiaCore

/// One press, from whichever channel: a USB keypad or touch terminal, the touch page or the local
/// API, or `pingjia rate`. `KioskContext.press` turns it into a rating.
public struct Press: Sendable, Hashable {
    /// Where it was pressed; nil for `pingjia rate`, whose rating is at its staff member's window.
    public var windowId: String?
    public var level: Int
    /// The device profile's scale; nil for the hall's.
    public var scale: String?
    public var reasons: [String]
    public var comment: String?
    public var channel: RatingChannel
    /// Whom the press rates when nobody is signed in at the window: the keypad pairing's staff
    /// member, the window's default, or the one `pingjia rate` names.
    public var staffId: String?
    /// What the caller knows should not count: `unarmed` for a device paired with no window,
    /// `test` for an installer's rating.
    public var flags: Set<RatingFlag>

    public init(windowId: String?, level: Int, scale: String? = nil, reasons: [String] = [], comment: String? = nil,
                channel: RatingChannel, staffId: String?, flags: Set<RatingFlag> = []) {
        self.windowId = windowId
        self.level = level
        self.scale = scale
        self.reasons = reasons
        self.comment = comment
        self.channel = channel
        self.staffId = staffId
        self.flags = flags
    }
}

extension KioskContext {
    /// The one way a press becomes a rating: the choice is checked against the scale (nothing is
    /// decided for a press that does not fit it), the session engine decides whom and which
    /// transaction it rates and what flags it gets (一次一评, bursts, pause; `sessions` is nil for
    /// `pingjia rate`), the rating is committed on the store's writer thread (never on the
    /// cooperative pool: a commit waits for fsync), and the display is told: 谢谢 once it is on
    /// disk, or the session open again when it is not. The caller thanks its device or answers
    /// its request after this returned.
    ///
    /// A staff member not in the roster never costs the press: it is kept without staff, flagged
    /// `unarmed`, whichever channel it came from.
    public func press(_ press: Press, sessions: SessionEngine?) async throws(KioskError) -> RatingRecord {
        let choice = try choice(level: press.level, scale: press.scale, reasons: press.reasons, comment: press.comment)
        let decision = press.windowId.flatMap { sessions?.press(windowId: $0, pairedStaff: press.staffId) }
        let flags = press.flags.union(decision?.flags ?? [])
        let staffId = decision.map { $0.staffId } ?? press.staffId
        let started = ContinuousClock.now
        let record: RatingRecord
        do {
            record = try await store.writing { _ throws(KioskError) in
                try self.commit(choice, staffId: staffId, channel: press.channel, flags: flags, windowId: press.windowId,
                                matterCode: decision?.matterCode, caseNo: decision?.caseNo)
            }
        } catch {
            if let decision { sessions?.failed(decision) }
            throw error
        }
        metrics.committed(level: choice.level.value, channel: press.channel, flags: record.rating.flags,
                          duration: ContinuousClock.now - started)
        if let decision { sessions?.committed(decision) }
        return record
    }
}

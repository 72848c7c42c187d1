import PingjiaCore

extension KioskContext {
    /// Stores 未评价 for an armed session nobody rated (timed out, or replaced by the next
    /// arming). The channel is the one the citizen would have used: a keypad when one is paired
    /// with the window or its staff member, else the touch screen. The record's id is the session's,
    /// which is also the nonce of the session's phone token: the hub can tell a 未评价 whose
    /// citizen rated on the phone instead (`phone_rating.token_nonce` = `record.id`).
    @discardableResult
    public func recordUnrated(_ session: RatingSession) throws(KioskError) -> RatingRecord {
        let keypad = config.keypads.contains { pairing in
            pairing.windowId == session.windowId || (pairing.windowId == nil && pairing.staffId == session.staffId)
        }
        return try recordUnrated(staffId: session.staffId, windowId: session.windowId, matterCode: session.matterCode,
                                 caseNo: session.caseNo, channel: keypad ? .keypad : .touch, id: session.id)
    }
}

import Foundation
import Hummingbird
import Logging
import PingjiaCore
import PingjiaKiosk

/// A rating from the touch page of an all-in-one kiosk: `POST /api/v1/windows/{w}/rating`.
/// The same path as a key press: the session engine decides (一次一评, bursts, pause) and
/// `KioskContext.rate` commits, with channel `touch`. Reasons and comment travel in the same
/// record as the level (the record format has no follow-up record).
struct TouchRatingAPI: Sendable {
    let web: WebContext
    let logger: Logger

    /// Longest comment kept: a touch screen's on-screen keyboard, not a letter.
    static let maxComment = 300

    struct Body: Decodable {
        var level: Int
        var reasons: [String]?
        var comment: String?
    }

    struct Committed: Encodable {
        var seq: UInt64
        var level: Int
        var staffId: String?
        var flags: [String]
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/windows/:window/rating") { request, context in
            let windowId = try windowParameter(context)
            let body = try await decodeBody(Body.self, request)
            let scale: Scale
            do { scale = try web.kiosk.scale() } catch {
                throw Problem(.serviceUnavailable, "no rating scale", detail: "\(error)")
            }
            guard let level = scale.level(body.level) else {
                throw Problem(.badRequest, "unknown level",
                              detail: "level \(body.level) is not on the scale \(scale.name) (\(scale.levels.map { "\($0.value)" }.joined(separator: ", ")))",
                              field: "body.level")
            }
            let reasons = body.reasons ?? []
            for (index, code) in reasons.enumerated() where scale.reason(code) == nil {
                throw Problem(.badRequest, "unknown reason",
                              detail: "reason '\(code)' is not one of the scale's: \(scale.reasons.map(\.code).joined(separator: ", "))",
                              field: "body.reasons[\(index)]")
            }
            if !reasons.isEmpty && !level.isBad {
                throw Problem(.badRequest, "reasons on a good rating",
                              detail: "reasons go with a bad rating only (\(scale.levels.filter(\.isBad).map { "\($0.value)" }.joined(separator: ", ")))",
                              field: "body.reasons")
            }
            if Set(reasons).count != reasons.count {
                throw Problem(.badRequest, "reason twice", detail: "each reason may be chosen once", field: "body.reasons")
            }
            let comment = body.comment?.trimmingCharacters(in: .whitespacesAndNewlines)
            if let comment, comment.count > Self.maxComment {
                throw Problem(.badRequest, "comment too long", detail: "a comment is at most \(Self.maxComment) characters", field: "body.comment")
            }
            let serving = try web.currentStaff(windowId: windowId)?.id
            let decision = web.sessions.press(windowId: windowId, pairedStaff: serving)
            do {
                let record = try web.kiosk.rate(staffId: decision.staffId, level: level.value, scale: scale.name, reasons: reasons,
                                                comment: (comment?.isEmpty ?? true) ? nil : comment, channel: .touch,
                                                flags: decision.flags, windowId: windowId,
                                                matterCode: decision.matterCode, caseNo: decision.caseNo)
                web.sessions.committed(decision)
                logger.info("rating committed", metadata: [
                    "seq": "\(record.seq)", "level": "\(level.value)", "window": "\(windowId)", "channel": "touch",
                    "staff": "\(record.rating.staffId ?? "-")",
                ])
                return try json(Committed(seq: record.seq, level: level.value, staffId: record.rating.staffId,
                                          flags: record.rating.flags.map(\.rawValue).sorted()), status: .created)
            } catch {
                web.sessions.failed(decision)
                logger.error("touch rating NOT recorded", metadata: ["window": "\(windowId)", "reason": "\(error)"])
                throw Problem(.serviceUnavailable, "rating not recorded",
                              detail: "\(error); the citizen can try again, and /healthz says what is wrong with the store")
            }
        }
    }
}

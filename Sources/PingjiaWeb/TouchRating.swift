import Foundation
import Hummingbird
import Logging
import PingjiaCore
import PingjiaKiosk

/// A rating from the touch page of an all-in-one kiosk: `POST /api/v1/windows/{w}/rating`.
/// The same path as a key press: the session engine decides (一次一评, bursts, pause) and
/// `KioskContext.rate` commits, with channel `touch`. The touch page sends the level alone and,
/// for a bad one, the reasons afterwards as a follow-up (`POST /api/v1/ratings/{id}/reasons`,
/// `ReasonsAPI`); reasons in this body are still taken, in the rating's own record.
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
        var id: String
        var seq: UInt64
        var level: Int
        /// 差评: the page asks for reasons, which follow with this rating's id.
        var bad: Bool
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
                return try json(Committed(id: record.rating.id.uuidString.lowercased(), seq: record.seq, level: level.value,
                                          bad: level.isBad, staffId: record.rating.staffId,
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

/// `POST /api/v1/ratings/{id}/reasons` `{"reasons": [...], "comment"?}`: the reasons of a bad
/// rating, committed after it as a follow-up record linked by its id (`refersTo`). The rating
/// is already stored and thanked for; this adds to it and never changes it.
struct ReasonsAPI: Sendable {
    let web: WebContext
    let logger: Logger

    struct Body: Decodable {
        var reasons: [String]?
        var comment: String?
    }

    struct Committed: Encodable {
        var id: String
        var seq: UInt64
        var refersTo: String
        var reasons: [String]
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/ratings/:id/reasons") { request, context in
            let idText = try context.parameters.require("id")
            guard let ratingId = UUID(uuidString: idText) else {
                throw Problem(.notFound, "unknown rating", detail: "'\(idText)' is not a rating id (a UUID)", field: "path.id")
            }
            let body = try await decodeBody(Body.self, request)
            let reasons = body.reasons ?? []
            if Set(reasons).count != reasons.count {
                throw Problem(.unprocessableContent, "reason twice", detail: "each reason may be chosen once", field: "body.reasons")
            }
            let comment = body.comment?.trimmingCharacters(in: .whitespacesAndNewlines)
            if let comment, comment.count > TouchRatingAPI.maxComment {
                throw Problem(.unprocessableContent, "comment too long",
                              detail: "a comment is at most \(TouchRatingAPI.maxComment) characters", field: "body.comment")
            }
            // One follow-up per rating: an empty one would use it up and say nothing (the page skips instead).
            if reasons.isEmpty && (comment?.isEmpty ?? true) {
                throw Problem(.unprocessableContent, "nothing to add", detail: "give reasons, a comment, or both", field: "body")
            }
            let record: RatingRecord
            do throws(KioskError) {
                record = try web.kiosk.addReasons(to: ratingId, reasons: reasons,
                                                  comment: (comment?.isEmpty ?? true) ? nil : comment, channel: .touch)
            } catch {
                switch error {
                case .followUp(let refusal):
                    throw Self.problem(refusal)
                case .rating(let reason):
                    throw Problem(.unprocessableContent, "unknown reason", detail: reason, field: "body.reasons")
                case .config, .stateDirectory, .store:
                    logger.error("reasons NOT recorded", metadata: ["refersTo": "\(idText)", "reason": "\(error)"])
                    throw Problem(.serviceUnavailable, "reasons not recorded",
                                  detail: "\(error); /healthz says what is wrong with the store")
                }
            }
            logger.info("reasons committed", metadata: [
                "seq": "\(record.seq)", "refersTo": "\(idText.lowercased())", "window": "\(record.rating.windowId ?? "-")",
                "staff": "\(record.rating.staffId ?? "-")",
            ])
            return try json(Committed(id: record.rating.id.uuidString.lowercased(), seq: record.seq,
                                      refersTo: idText.lowercased(), reasons: record.rating.reasons), status: .created)
        }
    }

    static func problem(_ refusal: FollowUpRefusal) -> Problem {
        switch refusal {
        case .unknownRating: Problem(.notFound, "unknown rating", detail: refusal.description, field: "path.id")
        case .notABadRating: Problem(.unprocessableContent, "not a bad rating", detail: refusal.description, field: "path.id")
        case .alreadyGiven: Problem(.conflict, "reasons already given", detail: refusal.description, field: "path.id")
        case .tooLate: Problem(.gone, "too late for reasons", detail: refusal.description, field: "path.id")
        }
    }
}

import Foundation
import Hummingbird
import Logging
import PingjiaCore
import PingjiaKiosk

/// A rating from the touch page of an all-in-one kiosk, or from the window's business system:
/// `POST /api/v1/windows/{w}/rating`. The same path as a key press (`KioskContext.press`): the
/// session engine decides (一次一评, bursts, pause), the rating is committed with channel `touch`,
/// and the answer comes once it is on disk. The touch page sends the level alone and, for a bad
/// one, the reasons afterwards as a follow-up (`POST /api/v1/ratings/{id}/reasons`, `ReasonsAPI`);
/// reasons in this body are still taken, in the rating's own record.
struct TouchRatingAPI: Sendable {
    let web: WebContext
    let logger: Logger

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
            let reasons = body.reasons ?? []
            let press = Press(windowId: windowId, level: body.level, reasons: reasons, comment: body.comment, channel: .touch,
                              staffId: try web.defaultStaff(windowId: windowId)?.id)
            let record: RatingRecord
            do throws(KioskError) {
                record = try await web.kiosk.press(press, sessions: web.sessions)
            } catch {
                if case .input = error {} else {
                    logger.error("touch rating NOT recorded", metadata: ["window": "\(windowId)", "reason": "\(error)"])
                }
                throw Problem(error, reasons: reasons)
            }
            logger.info("rating committed", metadata: [
                "seq": "\(record.seq)", "level": "\(record.rating.level)", "window": "\(windowId)", "channel": "touch",
                "staff": "\(record.rating.staffId ?? "-")",
            ])
            return try json(Committed(id: record.rating.id.uuidString.lowercased(), seq: record.seq, level: record.rating.level,
                                      bad: record.rating.code?.isBad ?? false, staffId: record.rating.staffId,
                                      flags: record.rating.flags.map(\.rawValue).sorted()), status: .created)
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
            let (reasons, comment) = (body.reasons ?? [], body.comment)
            let record: RatingRecord
            do throws(KioskError) {
                record = try await web.kiosk.store.writing { _ throws(KioskError) in
                    try web.kiosk.addReasons(to: ratingId, reasons: reasons, comment: comment, channel: .touch)
                }
            } catch {
                switch error {
                case .input, .followUp: break
                case .config, .stateDirectory, .store, .rating:
                    logger.error("reasons NOT recorded", metadata: ["refersTo": "\(idText)", "reason": "\(error)"])
                }
                throw Problem(error, reasons: reasons)
            }
            logger.info("reasons committed", metadata: [
                "seq": "\(record.seq)", "refersTo": "\(idText.lowercased())", "window": "\(record.rating.windowId ?? "-")",
                "staff": "\(record.rating.staffId ?? "-")",
            ])
            return try json(Committed(id: record.rating.id.uuidString.lowercased(), seq: record.seq,
                                      refersTo: idText.lowercased(), reasons: record.rating.reasons), status: .created)
        }
    }
}

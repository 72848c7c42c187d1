import Foundation
import Hummingbird
import PingjiaCore
import PingjiaKiosk

/// An RFC 9457 problem body (`application/problem+json`): what went wrong, where, and what to do.
/// Every 4xx and 5xx of the local web is one, so a caller never has to parse HTML or plain text.
public struct Problem: HTTPResponseError, Encodable {
    public let status: HTTPResponse.Status
    public let title: String
    public let detail: String
    /// The request part at fault, e.g. `body.status` or `path.window`.
    public let field: String?

    public init(_ status: HTTPResponse.Status, _ title: String, detail: String, field: String? = nil) {
        self.status = status
        self.title = title
        self.detail = detail
        self.field = field
    }

    enum CodingKeys: String, CodingKey { case status, title, detail, field }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(status.code, forKey: .status)
        try container.encode(title, forKey: .title)
        try container.encode(detail, forKey: .detail)
        try container.encodeIfPresent(field, forKey: .field)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try json(self, status: status)
        response.headers[.contentType] = "application/problem+json; charset=utf-8"
        return response
    }
}

extension Problem {
    /// The one mapping of the kiosk's refusals onto problems, for every route that rates or adds
    /// reasons: a body that parses but does not fit the scale is 422 naming the field (a body that
    /// does not parse is 400, `decodeBody`); a store that cannot take it is 503.
    /// - Parameter reasons: the request's reasons, to name the one at fault by its index.
    init(_ error: KioskError, reasons: [String] = []) {
        switch error {
        case .input(let input):
            let (title, field): (String, String) = switch input {
            case .unknownLevel: ("unknown level", "body.level")
            case .unknownReason(let code, _, _): ("unknown reason", "body.reasons[\(reasons.firstIndex(of: code) ?? 0)]")
            case .reasonTwice: ("reason twice", "body.reasons")
            case .reasonsOnGoodRating: ("reasons on a good rating", "body.reasons")
            case .commentTooLong: ("comment too long", "body.comment")
            case .nothingToAdd: ("nothing to add", "body")
            case .invalidField(let name, _): ("invalid field", "body.\(name)")
            }
            self.init(.unprocessableContent, title, detail: input.description, field: field)
        case .followUp(let refusal):
            switch refusal {
            case .unknownRating: self.init(.notFound, "unknown rating", detail: refusal.description, field: "path.id")
            case .notABadRating: self.init(.unprocessableContent, "not a bad rating", detail: refusal.description, field: "path.id")
            case .alreadyGiven: self.init(.conflict, "reasons already given", detail: refusal.description, field: "path.id")
            case .tooLate: self.init(.gone, "too late for reasons", detail: refusal.description, field: "path.id")
            }
        case .rating, .config, .stateDirectory, .store:
            self.init(.serviceUnavailable, "not recorded",
                      detail: "\(error); the citizen can try again, and /healthz says what is wrong with the store")
        }
    }
}

/// Turns Hummingbird's own errors (no route, wrong method) and anything unexpected into problem
/// bodies too.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            return response
        } catch let problem as Problem {
            throw problem
        } catch let error as HTTPError {
            let title = error.status == .notFound ? "no such page" : error.status.reasonPhrase
            throw Problem(error.status, title,
                          detail: error.body ?? "\(request.method) \(request.uri.path): see README.md, Local web, for the routes")
        } catch {
            throw Problem(.internalServerError, "internal error", detail: "\(error)")
        }
    }
}

/// Decodes a JSON body, naming the field at fault when it cannot.
func decodeBody<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
    let buffer: ByteBuffer
    do {
        buffer = try await request.body.collect(upTo: 64 * 1024)
    } catch {
        throw Problem(.contentTooLarge, "body too large", detail: "a request body of the local API is at most 64 KiB", field: "body")
    }
    do {
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    } catch let DecodingError.keyNotFound(key, context) {
        throw Problem(.badRequest, "missing field", detail: "the JSON body needs \"\(path(context.codingPath + [key]))\"",
                      field: field(context.codingPath + [key]))
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
        let what = context.codingPath.isEmpty ? "the body must be a JSON object" : "\"\(path(context.codingPath))\" has the wrong type"
        throw Problem(.badRequest, "wrong type", detail: "\(what): \(context.debugDescription)", field: field(context.codingPath))
    } catch let DecodingError.dataCorrupted(context) {
        throw Problem(.badRequest, "malformed JSON",
                      detail: context.codingPath.isEmpty ? "the body is not a JSON object: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)"
                          : "\"\(path(context.codingPath))\": \(context.debugDescription)",
                      field: field(context.codingPath))
    }
}

private func path(_ keys: [any CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }

/// `body.status`, or `body` for the body as a whole.
private func field(_ keys: [any CodingKey]) -> String { (["body"] + keys.map(\.stringValue)).joined(separator: ".") }

/// `path.window`, checked as every window id is.
func windowParameter(_ context: BasicRequestContext) throws -> String {
    let windowId = try context.parameters.require("window")
    guard Identifier.isValidID(windowId) else {
        throw Problem(.badRequest, "bad window id", detail: "window id '\(windowId)' is not a window id: \(Identifier.idRule)",
                      field: "path.window")
    }
    return windowId
}

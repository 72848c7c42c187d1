import Foundation
import Hummingbird
import Logging
import PingjiaSyncProtocol

/// Every error the hub's HTTP side produces is an RFC 9457 problem body, including Hummingbird's
/// own (no such route, wrong method) and anything a handler throws unexpectedly. The detail of an
/// unexpected error goes to the log only: a response never carries a stack trace or internals.
struct HubProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let status = Int(error.status.code)
            let detail = status == 404 ? "\(request.method) \(request.uri.path): no such route on this hub (see docs/sync-protocol.md)"
                : status == 405 ? "\(request.method) is not allowed on \(request.uri.path)"
                : "\(request.method) \(request.uri.path): \(error.status.reasonPhrase)"
            return problem(Problem(type: status == 404 ? "not-found" : "http-\(status)", title: error.status.reasonPhrase,
                                   status: status, detail: detail))
        } catch {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            return problem(Problem(type: Problem.Kind.internalError, title: "Internal error", status: 500,
                                   detail: "the hub could not answer this request; retry later, and tell its operator if it persists"))
        }
    }
}

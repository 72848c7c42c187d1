import Foundation
import PingjiaSyncProtocol

/// What a user can do to a 差评 case.
///
///     待核实 --verify--> 核实 --rectify (属实)--> 整改 --follow-up--> 回访 --close--> 办结
///                         └--close (误评 / 恶意差评)-------------------------------> 办结
///     核实 / 整改 / 回访 / 办结 (verdict 属实, not appealed before) --appeal--> 申诉复核
///     申诉复核 --review: upheld--> back to the state it came from
///     申诉复核 --review: 误评 / 恶意差评--> 办结
///
/// Hall managers act on their own hall's cases (everything but review); auditors see every hall
/// and decide appeals (review) only, so no one decides on an appeal against their own verdict.
public enum CaseAction: String, Sendable, CaseIterable, Codable {
    case verify
    case rectify
    case followUp = "follow-up"
    case close
    case appeal
    case review

    public var label: String {
        switch self {
        case .verify: "核实"
        case .rectify: "整改"
        case .followUp: "回访"
        case .close: "办结"
        case .appeal: "员工申诉"
        case .review: "申诉复核"
        }
    }

    /// Which role performs the action.
    public var role: AdminUserRecord.Role { self == .review ? .auditor : .manager }
}

/// The fields an action takes: `verdict` for verify, `result` for follow-up
/// (satisfied / unsatisfied / unreachable), `decision` for review (upheld / mistaken / malicious);
/// `note` is the evidence, rectification, feedback or grounds (required except for close).
public struct CaseInput: Sendable, Codable, Equatable {
    public var action: CaseAction
    public var note: String?
    public var verdict: CaseVerdict?
    public var result: String?
    public var decision: String?

    public init(action: CaseAction, note: String? = nil, verdict: CaseVerdict? = nil, result: String? = nil, decision: String? = nil) {
        self.action = action
        self.note = note
        self.verdict = verdict
        self.result = result
        self.decision = decision
    }

    public static let followUpResults = ["satisfied": "满意", "unsatisfied": "不满意", "unreachable": "联系不上"]
    public static let reviewDecisions = ["upheld": "维持属实", "mistaken": "改为误评", "malicious": "改为恶意差评"]
}

public enum CaseWorkflowError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(Int64)
    /// The user may not see this case, or may not take this action (403).
    case forbidden(String)
    /// The action is not allowed in the case's state (409), with the ones that are.
    case illegal(action: CaseAction, state: CaseState, allowed: [CaseAction])
    case invalidInput(String)
    /// Someone else changed the case first (409).
    case changedMeanwhile(Int64)
    case storage(HubError)

    public var description: String {
        switch self {
        case .notFound(let id): "no case \(id)"
        case .forbidden(let reason): reason
        case let .illegal(action, state, allowed):
            "'\(action.rawValue)' is not allowed on a case in \(state.rawValue) (\(state.label)); allowed now: "
                + (allowed.isEmpty ? "nothing" : allowed.map(\.rawValue).joined(separator: ", "))
        case .invalidInput(let reason): reason
        case .changedMeanwhile(let id): "case \(id) was changed by someone else meanwhile: reload it and try again"
        case .storage(let error): error.description
        }
    }

    public var status: Int {
        switch self {
        case .notFound: 404
        case .forbidden: 403
        case .illegal, .changedMeanwhile: 409
        case .invalidInput: 422
        case .storage: 503
        }
    }
}

/// A case as lists show it: with its due day and whether it is overdue.
public struct CaseView: Sendable, Codable, Equatable {
    public let entry: CaseEntry
    public let dueDay: String?
    public let overdue: Bool
}

/// The 差评 workflow over the hub's storage: opens cases, lists them for a user, applies actions.
public struct CaseWorkflow: Sendable {
    public let storage: any HubStorage
    public let config: CaseWorkflowConfig
    public let now: @Sendable () -> Date

    public init(storage: any HubStorage, config: CaseWorkflowConfig, now: @escaping @Sendable () -> Date = Date.init) {
        self.storage = storage
        self.config = config
        self.now = now
    }

    /// The actions the state (and verdict) allows, whoever asks.
    public static func actions(for entry: CaseEntry) -> [CaseAction] {
        let valid = entry.verdict == .valid
        switch entry.state {
        case .pending: return [.verify]
        case .verified:
            return (valid ? [.rectify] : [.close]) + (valid && !entry.appealed ? [.appeal] : [])
        case .rectified: return [.followUp] + (!entry.appealed ? [.appeal] : [])
        case .visited: return [.close] + (!entry.appealed ? [.appeal] : [])
        case .closed: return valid && !entry.appealed ? [.appeal] : []
        case .appeal: return [.review]
        }
    }

    /// The actions `user` may take on `entry` now.
    public static func actions(for entry: CaseEntry, by user: AdminUser) -> [CaseAction] {
        guard user.maySee(hall: entry.hall) else { return [] }
        return actions(for: entry).filter { $0.role == user.role }
    }

    func view(_ entry: CaseEntry) -> CaseView {
        let since = WireTime.parse(entry.stateSince) ?? now()
        return CaseView(entry: entry, dueDay: config.dueDay(state: entry.state, since: since)?.text,
                        overdue: config.isOverdue(state: entry.state, since: since, now: now()))
    }

    /// Opens cases for 差评 that have none yet (see `CaseStorage.openCases`).
    @discardableResult
    public func sweep() async throws(CaseWorkflowError) -> Int {
        do { return try await storage.openCases() } catch { throw .storage(error) }
    }

    /// Which cases a list shows.
    public enum Selection: Sendable, Equatable {
        /// Every state but 办结 (the default: the work at hand).
        case open
        case state(CaseState)
        /// Every state, closed ones included.
        case all

        var states: Set<CaseState>? {
            switch self {
            case .open: Set(CaseState.allCases).subtracting([.closed])
            case .state(let state): [state]
            case .all: nil
            }
        }
    }

    /// At most this many cases per list, newest first.
    public static let listLimit = 1000

    /// The cases `user` may see, after a sweep, newest first. A manager asking for another
    /// hall is refused.
    public func list(for user: AdminUser, _ selection: Selection = .open, hall: String? = nil,
                     overdueOnly: Bool = false) async throws(CaseWorkflowError) -> [CaseView] {
        if let hall, !user.maySee(hall: hall) { throw .forbidden("\(user.name) may not see the cases of \(hall)") }
        try await sweep()
        let entries: [CaseEntry]
        do {
            entries = try await storage.cases(states: selection.states, hall: hall ?? user.hall, limit: Self.listLimit)
        } catch {
            throw .storage(error)
        }
        return entries.map(view).filter { !overdueOnly || $0.overdue }
    }

    public func detail(id: Int64, for user: AdminUser) async throws(CaseWorkflowError) -> (view: CaseView, events: [CaseEvent], allowed: [CaseAction]) {
        let entry = try await visibleCase(id, user)
        let events: [CaseEvent]
        do { events = try await storage.caseEvents(id: id) } catch { throw .storage(error) }
        return (view(entry), events, Self.actions(for: entry, by: user))
    }

    private func visibleCase(_ id: Int64, _ user: AdminUser) async throws(CaseWorkflowError) -> CaseEntry {
        let found: CaseEntry?
        do { found = try await storage.caseEntry(id: id) } catch { throw .storage(error) }
        guard let entry = found else { throw .notFound(id) }
        guard user.maySee(hall: entry.hall) else { throw .forbidden("\(user.name) may not see case \(id) (hall \(entry.hall))") }
        return entry
    }

    /// Validates and applies one action; the audit trail gets who, what, when, from/to and the note.
    @discardableResult
    public func apply(id: Int64, _ input: CaseInput, by user: AdminUser) async throws(CaseWorkflowError) -> CaseEntry {
        let entry = try await visibleCase(id, user)
        let allowed = Self.actions(for: entry)
        guard allowed.contains(input.action) else {
            throw .illegal(action: input.action, state: entry.state, allowed: Self.actions(for: entry, by: user))
        }
        guard input.action.role == user.role else {
            throw .forbidden(input.action == .review ? "only an auditor decides an appeal (申诉复核)"
                                                    : "'\(input.action.rawValue)' is the hall manager's: an auditor only decides appeals")
        }
        let note = (input.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if input.action != .close, note.isEmpty {
            throw .invalidInput("'\(input.action.rawValue)' needs a note (evidence, rectification, feedback or grounds)")
        }
        if note.count > 4000 { throw .invalidInput("the note is longer than 4000 characters") }
        let at = WireTime.format(now())
        var change = CaseChange(from: entry.state, to: entry.state, at: at)
        var detail = ""
        switch input.action {
        case .verify:
            guard let verdict = input.verdict else { throw .invalidInput("verify needs a verdict: valid, mistaken or malicious") }
            change = CaseChange(from: entry.state, to: .verified, at: at, verdict: verdict)
            detail = verdict.label
        case .rectify:
            change = CaseChange(from: entry.state, to: .rectified, at: at)
        case .followUp:
            guard let result = input.result, let label = CaseInput.followUpResults[result] else {
                throw .invalidInput("follow-up needs a result: satisfied, unsatisfied or unreachable")
            }
            change = CaseChange(from: entry.state, to: .visited, at: at, followUpResult: result)
            detail = label
        case .close:
            change = CaseChange(from: entry.state, to: .closed, at: at)
        case .appeal:
            change = CaseChange(from: entry.state, to: .appeal, at: at, appealFrom: entry.state, appealed: true)
        case .review:
            guard let decision = input.decision, let label = CaseInput.reviewDecisions[decision] else {
                throw .invalidInput("review needs a decision: upheld, mistaken or malicious")
            }
            if decision == "upheld" {
                change = CaseChange(from: entry.state, to: entry.appealFrom ?? .verified, at: at, clearAppealFrom: true)
            } else {
                change = CaseChange(from: entry.state, to: .closed, at: at, verdict: CaseVerdict(rawValue: decision), clearAppealFrom: true)
            }
            detail = label
        }
        let event = CaseEvent(at: at, actor: user.name, action: input.action.rawValue, fromState: entry.state, toState: change.to,
                              note: detail.isEmpty ? note : (note.isEmpty ? detail : "\(detail)：\(note)"))
        let applied: Bool
        do { applied = try await storage.transition(id: id, change: change, event: event) } catch { throw .storage(error) }
        guard applied else { throw .changedMeanwhile(id) }
        do {
            guard let updated = try await storage.caseEntry(id: id) else { throw CaseWorkflowError.notFound(id) }
            return updated
        } catch let error as CaseWorkflowError {
            throw error
        } catch {
            throw .storage(error as? HubError ?? .invalid("\(error)"))
        }
    }
}

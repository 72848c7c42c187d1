import Foundation

/// What the admin side (users, sessions), the 差评 case workflow and the reports need from the
/// hub's storage. Both backends implement it in their `+Cases` files, where its SQL lives.
public protocol CaseStorage {
    // MARK: Admin users and sessions
    func addUser(_ user: AdminUserRecord, now: Date) async throws(HubError)
    func setPassword(name: String, passwordHash: String, now: Date) async throws(HubError)
    /// Removes a user and ends their sessions; the audit trail keeps their name.
    func removeUser(name: String) async throws(HubError)
    func adminUsers() async throws(HubError) -> [AdminUserRecord]
    func adminUser(name: String) async throws(HubError) -> AdminUserRecord?
    /// Stores a session under the SHA-256 of its cookie token (the token itself is never stored).
    func createSession(tokenDigest: String, userName: String, csrfToken: String, createdAt: Date, expiresAt: Date) async throws(HubError)
    /// The session and its user, if it exists and has not expired at `now`.
    func session(tokenDigest: String, now: Date) async throws(HubError) -> AdminSessionRecord?
    func deleteSession(tokenDigest: String) async throws(HubError)
    /// Ends every session of a user (after a password change) and drops expired ones.
    func deleteSessions(userName: String?, expiredBefore: Date) async throws(HubError)

    // MARK: 差评 cases
    /// Opens one case for every 差评 (code 4-5) that has none yet, as of when the hub received
    /// the rating. Idempotent and safe to run from several hub instances at once; returns how
    /// many cases it opened.
    func openCases() async throws(HubError) -> Int
    /// The newest `limit` cases in one of `states` (nil: any), of one hall (nil: all), newest first.
    func cases(states: Set<CaseState>?, hall: String?, limit: Int) async throws(HubError) -> [CaseEntry]
    func caseEntry(id: Int64) async throws(HubError) -> CaseEntry?
    func caseEvents(id: Int64) async throws(HubError) -> [CaseEvent]
    /// Applies `change` if the case is still in `change.from` (false if someone moved it first)
    /// and appends `event` to its audit trail, in one transaction.
    func transition(id: Int64, change: CaseChange, event: CaseEvent) async throws(HubError) -> Bool

    // MARK: Reports
    /// Counts per group over local dates `from`...`to` (Asia/Shanghai), aggregated in SQL.
    func report(_ query: ReportQuery) async throws(HubError) -> [ReportCounts]
}

public struct AdminUserRecord: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable { case manager, auditor }
    public let name: String
    public let role: Role
    /// A manager's hall; nil for an auditor (all halls).
    public let hall: String?
    public let passwordHash: String

    public init(name: String, role: Role, hall: String?, passwordHash: String) {
        self.name = name
        self.role = role
        self.hall = hall
        self.passwordHash = passwordHash
    }
}

public struct AdminSessionRecord: Sendable, Equatable {
    public let user: AdminUserRecord
    public let csrfToken: String
    public let expiresAt: Date
}

/// The states of a 差评 case (GB/T 39734; 国办发〔2019〕51号). The raw values are stored.
public enum CaseState: String, Sendable, CaseIterable, Codable {
    case pending      // 待核实: opened, awaiting verification
    case verified     // 核实: verdict recorded
    case rectified    // 整改: rectification done
    case visited      // 回访: the citizen was called back
    case closed       // 办结
    case appeal       // 申诉复核: staff appealed a "valid" verdict, awaiting the auditor's review

    public var label: String {
        switch self {
        case .pending: "待核实"
        case .verified: "核实"
        case .rectified: "整改"
        case .visited: "回访"
        case .closed: "办结"
        case .appeal: "申诉复核"
        }
    }
}

/// The outcome of verification. Mistaken and malicious 差评 are kept but leave the bad rate.
public enum CaseVerdict: String, Sendable, CaseIterable, Codable {
    case valid, mistaken, malicious

    public var label: String {
        switch self {
        case .valid: "属实"
        case .mistaken: "误评"
        case .malicious: "恶意差评"
        }
    }
}

public struct CaseEntry: Sendable, Equatable, Codable {
    public let id: Int64
    /// `device` (a kiosk record) or `phone` (a phone rating).
    public let source: String
    public let ratingId: String
    public let hall: String
    public let deviceId: String
    public let staffId: String?
    public let windowId: String?
    public let matterCode: String?
    public let code: Int
    /// The rating's reasons and comment; a case read by id adds those of the kiosk's follow-up
    /// (`reasons` record), which may arrive after the case opened.
    public var reasons: [String]
    public var comment: String?
    public let ratedAt: String
    public let openedAt: String
    public let state: CaseState
    /// When the case entered its current state (deadlines count from here).
    public let stateSince: String
    public let verdict: CaseVerdict?
    /// 回访 result (`satisfied`, `unsatisfied`, `unreachable`), once the citizen was called back.
    public let followUpResult: String?
    /// The state an appeal came from, while in 申诉复核 (an upheld verdict returns there).
    public let appealFrom: CaseState?
    public let appealed: Bool
}

public struct CaseEvent: Sendable, Equatable, Codable {
    public let at: String
    public let actor: String
    public let action: String
    public let fromState: CaseState?
    public let toState: CaseState
    public let note: String

    public init(at: String, actor: String, action: String, fromState: CaseState?, toState: CaseState, note: String) {
        self.at = at
        self.actor = actor
        self.action = action
        self.fromState = fromState
        self.toState = toState
        self.note = note
    }
}

/// The new values of a case after a transition; nil fields keep their value.
public struct CaseChange: Sendable, Equatable {
    public let from: CaseState
    public let to: CaseState
    public let at: String
    public var verdict: CaseVerdict?
    public var followUpResult: String?
    public var appealFrom: CaseState?
    /// Clears `appeal_from` (after the review).
    public var clearAppealFrom = false
    public var appealed: Bool?
}

public struct ReportQuery: Sendable, Equatable {
    public enum Grouping: String, Sendable, CaseIterable { case staff, window, matter, day }
    /// Local dates (Asia/Shanghai), YYYY-MM-DD, both included.
    public var from: String
    public var to: String
    public var hall: String?
    public var by: Grouping?

    /// Bounds on the stored `rated_at` text that every row of the range lies within, whatever
    /// UTC offset its device wrote (at most a day away from the hall's): the day before `from`
    /// and the second day after `to`. They let the time index narrow the scan before each row's
    /// local date is computed. Nil for a date that is not YYYY-MM-DD.
    public var textBounds: (lower: String, upper: String)? {
        guard let first = LocalDay(from), let last = LocalDay(to) else { return nil }
        return (LocalDay(first.noon.addingTimeInterval(-24 * 3600)).text, last.next.next.text)
    }

    public init(from: String, to: String, hall: String? = nil, by: Grouping? = nil) {
        self.from = from
        self.to = to
        self.hall = hall
        self.by = by
    }
}

/// Counts of one report group, as the database aggregated them.

import Foundation
import PingjiaConfig
import PingjiaCore
import Synchronization

/// What a window's staff member is doing, as the keypad, the local API or the CLI last said.
public enum StaffStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case signedIn = "signed-in"
    /// 暂停服务: at the window but not serving; presses are kept, flagged `paused`.
    case paused
    case away
    case signedOut = "signed-out"
}

extension RatingFlag {
    /// Pressed while the staff member had paused service (暂停服务) or was away.
    public static let paused = RatingFlag(rawValue: "paused")
}

/// A rating session: one transaction at one window, rated at most once (一次一评).
public struct RatingSession: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Hashable, Codable {
        case api
        case keypad
    }

    public var id: UUID
    public var windowId: String
    public var staffId: String?
    public var matterCode: String?
    public var caseNo: String?
    public var source: Source
    /// Monotonic nanoseconds (`DeviceTime.monotonicNs`): the wall clock may jump under NTP.
    public var armedAtNs: UInt64
}

/// How the engine wants a press recorded: who it rates, which transaction, which flags.
public struct PressDecision: Sendable, Hashable {
    public var windowId: String
    public var staffId: String?
    public var matterCode: String?
    public var caseNo: String?
    public var flags: Set<RatingFlag>
    /// The armed session this press rated and closed, if any.
    public var session: RatingSession?
}

/// What a window display shows; published to subscribers on every change.
public struct WindowState: Sendable, Hashable, Codable {
    public enum Phase: String, Sendable, Hashable, Codable {
        /// Nothing to ask: no session armed (armed mode) and no fresh rating.
        case idle
        /// 请您对我的服务进行评价.
        case armed
        /// 谢谢: a rating was just committed.
        case thanks
    }

    public var windowId: String
    public var mode: WindowMode
    public var staffId: String?
    public var status: StaffStatus
    public var phase: Phase
    public var session: RatingSession?
}

/// Something the daemon records: each timeout becomes a 未评价 record (`KioskContext.recordUnrated`).
public enum SessionEvent: Sendable, Hashable {
    /// 未评价: an armed session that nobody rated before it timed out.
    case timedOut(RatingSession)
}

public enum SessionError: Error, Sendable, Equatable, CustomStringConvertible {
    case noStaff(window: String)

    public var description: String {
        switch self {
        case .noStaff(let window):
            "window '\(window)' has no staff member: give staffId, sign someone in at the window, or pair a [[keypad]] with it"
        }
    }
}

/// The rating-session rules of every window of this kiosk, in one place so the keypad, the local
/// API and the display agree. Time comes from a `DeviceClock`, so tests step through timeouts and
/// bursts without sleeping. Presses are never refused here: every press gets a decision, and
/// anything that should not count is flagged, because the hall's reports must see it.
public final class SessionEngine: Sendable {
    private struct Window {
        var staffId: String?
        var status: StaffStatus = .signedOut
        var session: RatingSession?
        /// True from a session's rating until the next arming: further presses are `repeat`.
        var rated = false
        var lastPressNs: UInt64?
        /// When the display started saying 谢谢; it goes back after `thanksNs`.
        var thanksAtNs: UInt64?
    }

    private struct State {
        var settings: SessionSettings
        var windows: [String: Window] = [:]
        var events: [SessionEvent] = []
        var subscribers: [UUID: (window: String?, continuation: AsyncStream<WindowState>.Continuation)] = [:]
    }

    /// How long the display says 谢谢 after a rating.
    public static let thanksNs: UInt64 = 5_000_000_000

    /// The rules of this moment; `update(settings:)` replaces them while sessions run.
    public var settings: SessionSettings { state.withLock { $0.settings } }
    private let clock: any DeviceClock
    private let state: Mutex<State>

    public init(settings: SessionSettings, clock: any DeviceClock = SystemDeviceClock()) {
        self.state = Mutex(State(settings: settings))
        self.clock = clock
    }

    /// New rules (the hub's configuration changed): the next press is judged by them; a session
    /// already armed stays armed, and every display is sent its window's state again, so pages
    /// that show what the configuration decides (mode, QR link) redraw without a reload.
    public func update(settings: SessionSettings) {
        state.withLock { state in
            state.settings = settings
            resendLocked(state)
        }
    }

    /// Sends every display its window's state again, so open pages redraw what they read beside
    /// it (the staff member's name and photo, after the roster changed).
    public func redrawDisplays() {
        state.withLock { resendLocked($0) }
    }

    private func resendLocked(_ state: State) {
        for subscriber in state.subscribers.values {
            if let window = subscriber.window {
                subscriber.continuation.yield(stateLocked(state, window))
            } else {
                for id in state.windows.keys.sorted() { subscriber.continuation.yield(stateLocked(state, id)) }
            }
        }
    }

    // MARK: sessions

    /// Opens a session at `windowId` (请评价), replacing one still open: the staff member has moved
    /// on to the next citizen, so the previous transaction goes unrated and is reported timed out.
    @discardableResult
    public func arm(windowId: String, staffId: String?, matterCode: String? = nil, caseNo: String? = nil,
                    source: RatingSession.Source) throws(SessionError) -> RatingSession {
        let now = clock.monotonicNs()
        let result: Result<RatingSession, SessionError> = state.withLock { state in
            expireLocked(&state, now: now)
            var window = state.windows[windowId] ?? Window()
            guard let staff = staffId ?? window.staffId else { return .failure(.noStaff(window: windowId)) }
            if let open = window.session { state.events.append(.timedOut(open)) }
            let session = RatingSession(id: UUID(), windowId: windowId, staffId: staff, matterCode: matterCode,
                                        caseNo: caseNo, source: source, armedAtNs: now)
            window.session = session
            window.rated = false
            window.thanksAtNs = nil
            state.windows[windowId] = window
            publishLocked(state, windowId)
            return .success(session)
        }
        return try result.get()
    }

    /// Decides how a press at `windowId` is recorded and closes the session it rates. `pairedStaff`
    /// is the `[[keypad]]` pairing's staff member, used when nobody is signed in at the window.
    public func press(windowId: String, pairedStaff: String?) -> PressDecision {
        let now = clock.monotonicNs()
        return state.withLock { state in
            expireLocked(&state, now: now)
            var window = state.windows[windowId] ?? Window()
            var flags: Set<RatingFlag> = []
            if let last = window.lastPressNs, now &- last < state.settings.minIntervalNs(windowId) {
                flags.insert(.suspectBurst)
            }
            window.lastPressNs = now
            if window.status == .paused || window.status == .away {
                flags.insert(.paused)
            }
            let signedIn = window.status == .signedOut ? nil : window.staffId
            var decision = PressDecision(windowId: windowId, staffId: signedIn ?? pairedStaff, flags: flags)
            switch state.settings.mode(windowId) {
            case .open:
                break
            case .armed:
                if let session = window.session {
                    decision.session = session
                    decision.staffId = session.staffId ?? decision.staffId
                    decision.matterCode = session.matterCode
                    decision.caseNo = session.caseNo
                    window.session = nil
                    window.rated = true
                } else {
                    decision.flags.insert(window.rated ? .repeat : .unarmed)
                }
            }
            state.windows[windowId] = window
            return decision
        }
    }

    /// The press was committed: the display says 谢谢 for a few seconds.
    public func committed(_ decision: PressDecision) {
        let now = clock.monotonicNs()
        state.withLock { state in
            state.windows[decision.windowId, default: Window()].thanksAtNs = now
            publishLocked(state, decision.windowId)
        }
    }

    /// The press could not be stored: the session it would have closed is open again (unless a new
    /// one was armed meanwhile), so the citizen's next press still counts.
    public func failed(_ decision: PressDecision) {
        guard let session = decision.session else { return }
        state.withLock { state in
            guard state.windows[decision.windowId]?.session == nil else { return }
            state.windows[decision.windowId]?.session = session
            state.windows[decision.windowId]?.rated = false
            publishLocked(state, decision.windowId)
        }
    }

    /// Closes sessions that have waited longer than the timeout and returns every event since the
    /// last call. The daemon calls it a few times a second; tests call it after moving the clock.
    public func takeEvents() -> [SessionEvent] {
        let now = clock.monotonicNs()
        return state.withLock { state in
            expireLocked(&state, now: now)
            defer { state.events = [] }
            return state.events
        }
    }

    // MARK: staff

    /// Sets who is at `windowId` and what they are doing. A nil `staffId` keeps the one there.
    @discardableResult
    public func setStaff(windowId: String, staffId: String?, status: StaffStatus) throws(SessionError) -> WindowState {
        try changeStaff(windowId: windowId, staffId: staffId) { _ in status }
    }

    /// `pause` key: 暂停服务, and back to serving on the next press of it. Read and changed under
    /// one lock, so two presses at once never both read "serving".
    @discardableResult
    public func togglePause(windowId: String, staffId: String?) throws(SessionError) -> WindowState {
        try changeStaff(windowId: windowId, staffId: staffId) { $0 == .paused ? .signedIn : .paused }
    }

    private func changeStaff(windowId: String, staffId: String?,
                             status next: (StaffStatus) -> StaffStatus) throws(SessionError) -> WindowState {
        let result: Result<WindowState, SessionError> = state.withLock { state in
            var window = state.windows[windowId] ?? Window()
            guard let staff = staffId ?? window.staffId else { return .failure(.noStaff(window: windowId)) }
            if let open = window.session, staff != (open.staffId ?? window.staffId) {
                // Someone else takes over the window: the previous person's transaction is over.
                // The session's own staff member signing in or pausing keeps it (a session armed
                // for them at a window where nobody had signed in yet, say).
                state.events.append(.timedOut(open))
                window.session = nil
            }
            window.staffId = staff
            window.status = next(window.status)
            window.thanksAtNs = nil
            state.windows[windowId] = window
            publishLocked(state, windowId)
            return .success(stateLocked(state, windowId))
        }
        return try result.get()
    }

    // MARK: display

    public func windowState(_ windowId: String) -> WindowState {
        let now = clock.monotonicNs()
        return state.withLock { state in
            expireLocked(&state, now: now)
            return stateLocked(state, windowId)
        }
    }

    /// Every window the engine has state for (staff set, a session, a press), sorted by id.
    public func allWindowStates() -> [WindowState] {
        let now = clock.monotonicNs()
        return state.withLock { state in
            expireLocked(&state, now: now)
            return state.windows.keys.sorted().map { stateLocked(state, $0) }
        }
    }

    /// Every change of `windowId`'s state (all windows when nil), starting with the current one.
    public func updates(windowId: String?) -> AsyncStream<WindowState> {
        let (stream, continuation) = AsyncStream.makeStream(of: WindowState.self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        state.withLock { state in
            state.subscribers[id] = (windowId, continuation)
            if let windowId { continuation.yield(stateLocked(state, windowId)) }
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Open update streams (display connections), for health and tests.
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Ends every update stream, so open display connections (server-sent events) let the web
    /// server stop on shutdown.
    public func finishSubscribers() {
        let subscribers = state.withLock { state in
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.continuation.finish() }
    }

    // MARK: inside the lock

    private func stateLocked(_ state: State, _ windowId: String) -> WindowState {
        let window = state.windows[windowId] ?? Window()
        let phase: WindowState.Phase = window.thanksAtNs != nil ? .thanks : (window.session != nil ? .armed : .idle)
        return WindowState(windowId: windowId, mode: state.settings.mode(windowId), staffId: window.staffId,
                           status: window.status, phase: phase, session: window.session)
    }

    private func publishLocked(_ state: State, _ windowId: String) {
        let current = stateLocked(state, windowId)
        for subscriber in state.subscribers.values where subscriber.window == nil || subscriber.window == windowId {
            subscriber.continuation.yield(current)
        }
    }

    private func expireLocked(_ state: inout State, now: UInt64) {
        for (id, window) in state.windows {
            if let thanks = window.thanksAtNs, now &- thanks >= Self.thanksNs {
                state.windows[id]?.thanksAtNs = nil
                publishLocked(state, id)
            }
            guard let session = window.session, now &- session.armedAtNs >= state.settings.timeoutNs(id) else { continue }
            state.windows[id]?.session = nil
            state.events.append(.timedOut(session))
            publishLocked(state, id)
        }
    }
}

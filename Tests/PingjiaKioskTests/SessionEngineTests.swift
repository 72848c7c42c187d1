import PingjiaConfig
import PingjiaCore
import PingjiaKiosk
import Synchronization
import Testing

/// A clock the test moves by hand: session rules are about time, and a test that sleeps is slow
/// and flaky.
final class TestClock: DeviceClock {
    private let ns = Mutex<UInt64>(1_000_000_000)

    func now() -> DeviceTime {
        DeviceTime(wallClock: "2026-11-24T10:00:00.000+08:00", monotonicNs: ns.withLock { $0 })
    }

    func advance(ms: UInt64) { ns.withLock { $0 += ms * 1_000_000 } }
}

private func engine(mode: WindowMode = .armed, windows: [String: WindowSettings] = [:]) -> (SessionEngine, TestClock) {
    var settings = SessionSettings()
    settings.mode = mode
    settings.timeoutMs = 10_000
    settings.minIntervalMs = 300
    settings.windows = windows
    let clock = TestClock()
    return (SessionEngine(settings: settings, clock: clock), clock)
}

@Suite struct SessionRuleTests {
    @Test func firstPressInAnArmedSessionCountsAndCarriesTheTransaction() throws {
        let (engine, clock) = engine()
        let session = try engine.arm(windowId: "W03", staffId: "A1023", matterCode: "M-11", caseNo: "C-7", source: .api)
        clock.advance(ms: 2_000)
        let press = engine.press(windowId: "W03", pairedStaff: "B0001")
        #expect(press.flags.isEmpty)
        #expect(press.session == session)
        #expect(press.staffId == "A1023")   // the session's staff, not the pairing's
        #expect(press.matterCode == "M-11")
        #expect(press.caseNo == "C-7")
        #expect(engine.windowState("W03").phase == .idle)   // closed by the rating
    }

    @Test func pressesAfterTheRatingAreRepeatUntilTheNextArming() throws {
        let (engine, clock) = engine()
        try engine.arm(windowId: "W03", staffId: "A1023", source: .keypad)
        _ = engine.press(windowId: "W03", pairedStaff: nil)
        clock.advance(ms: 1_000)
        let second = engine.press(windowId: "W03", pairedStaff: nil)
        #expect(second.flags == [.repeat])
        #expect(second.session == nil)
        #expect(second.staffId == nil)   // nobody signed in, no pairing: the record says so
        try engine.arm(windowId: "W03", staffId: "A1023", source: .keypad)
        clock.advance(ms: 1_000)
        #expect(engine.press(windowId: "W03", pairedStaff: nil).flags.isEmpty)
    }

    @Test func pressWithNoSessionInArmedModeIsUnarmedAndKeepsThePairedStaff() {
        let (engine, _) = engine()
        let press = engine.press(windowId: "W03", pairedStaff: "A1023")
        #expect(press.flags == [.unarmed])
        #expect(press.staffId == "A1023")
    }

    @Test func pressesFasterThanAPersonAreSuspectBurstPerWindow() throws {
        let (engine, clock) = engine(mode: .open)
        #expect(engine.press(windowId: "W03", pairedStaff: "A1023").flags.isEmpty)
        clock.advance(ms: 299)
        #expect(engine.press(windowId: "W03", pairedStaff: "A1023").flags == [.suspectBurst])
        // Another window's press at the same instant is a different citizen.
        #expect(engine.press(windowId: "W04", pairedStaff: "B0001").flags.isEmpty)
        clock.advance(ms: 300)
        #expect(engine.press(windowId: "W03", pairedStaff: "A1023").flags.isEmpty)
    }

    @Test func anUnratedSessionTimesOutAsAnEventAndLaterPressesAreUnarmed() throws {
        let (engine, clock) = engine()
        let session = try engine.arm(windowId: "W03", staffId: "A1023", source: .api)
        clock.advance(ms: 9_999)
        #expect(engine.takeEvents().isEmpty)
        #expect(engine.windowState("W03").phase == .armed)
        clock.advance(ms: 1)
        #expect(engine.takeEvents() == [.timedOut(session)])
        #expect(engine.takeEvents().isEmpty)   // reported once
        #expect(engine.press(windowId: "W03", pairedStaff: "A1023").flags == [.unarmed])
    }

    @Test func armingOverAnOpenSessionReportsTheOldOneUnrated() throws {
        let (engine, _) = engine()
        let first = try engine.arm(windowId: "W03", staffId: "A1023", caseNo: "1", source: .api)
        let second = try engine.arm(windowId: "W03", staffId: "A1023", caseNo: "2", source: .api)
        #expect(engine.takeEvents() == [.timedOut(first)])
        #expect(engine.press(windowId: "W03", pairedStaff: nil).session == second)
    }

    @Test func theSessionsOwnStaffChangingStatusKeepsItAndSomeoneElseEndsIt() throws {
        let (engine, _) = engine()
        // Armed for A1024 at a window where nobody has signed in; A1024 then pauses: same person.
        let session = try engine.arm(windowId: "W04", staffId: "A1024", source: .api)
        try engine.setStaff(windowId: "W04", staffId: "A1024", status: .paused)
        #expect(engine.takeEvents().isEmpty)
        #expect(engine.windowState("W04").session == session)
        // Someone else signs in: A1024's transaction is over, unrated.
        try engine.setStaff(windowId: "W04", staffId: "A1023", status: .signedIn)
        #expect(engine.takeEvents() == [.timedOut(session)])
        #expect(engine.windowState("W04").session == nil)
    }

    @Test func openModeCountsEveryPressPerWindowSetting() {
        let (engine, clock) = engine(mode: .armed, windows: ["K1": WindowSettings(mode: .open)])
        #expect(engine.press(windowId: "K1", pairedStaff: "A1023").flags.isEmpty)
        clock.advance(ms: 5_000)
        #expect(engine.press(windowId: "K1", pairedStaff: "A1023").flags.isEmpty)
        #expect(engine.press(windowId: "W03", pairedStaff: "A1023").flags == [.unarmed])
    }

    /// The pause key read the status, then set it, under two locks: two presses at once could both
    /// read "serving" and leave the window paused. An even number of toggles from many tasks at
    /// once must end where it began.
    @Test func pauseTogglesAtOnceNeverLoseOne() async throws {
        let (engine, _) = engine(mode: .open)
        try engine.setStaff(windowId: "W03", staffId: "A1023", status: .signedIn)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<250 { _ = try? engine.togglePause(windowId: "W03", staffId: nil) }
                }
            }
        }
        #expect(engine.windowState("W03").status == .signedIn)
    }

    @Test func pressesWhilePausedOrAwayAreFlaggedPausedAndRateTheSignedInStaff() throws {
        let (engine, clock) = engine(mode: .open)
        try engine.setStaff(windowId: "W03", staffId: "A1023", status: .signedIn)
        #expect(engine.press(windowId: "W03", pairedStaff: "B0001") == PressDecisionMatcher.staff("A1023", flags: []))
        try engine.togglePause(windowId: "W03", staffId: nil)
        #expect(engine.windowState("W03").status == .paused)
        clock.advance(ms: 1_000)
        #expect(engine.press(windowId: "W03", pairedStaff: "B0001") == PressDecisionMatcher.staff("A1023", flags: [.paused]))
        try engine.setStaff(windowId: "W03", staffId: nil, status: .away)
        clock.advance(ms: 1_000)
        #expect(engine.press(windowId: "W03", pairedStaff: "B0001").flags == [.paused])
        try engine.togglePause(windowId: "W03", staffId: nil)   // away → paused
        try engine.togglePause(windowId: "W03", staffId: nil)   // paused → serving
        clock.advance(ms: 1_000)
        #expect(engine.press(windowId: "W03", pairedStaff: "B0001").flags.isEmpty)
        // Signed out: the pairing's staff is rated, the signed-out one is not.
        try engine.setStaff(windowId: "W03", staffId: nil, status: .signedOut)
        clock.advance(ms: 1_000)
        #expect(engine.press(windowId: "W03", pairedStaff: "B0001").staffId == "B0001")
    }

    @Test func armingNeedsSomeoneToRate() throws {
        let (engine, _) = engine()
        #expect(throws: SessionError.noStaff(window: "W03")) {
            try engine.arm(windowId: "W03", staffId: nil, source: .keypad)
        }
        try engine.setStaff(windowId: "W03", staffId: "A1023", status: .signedIn)
        #expect(try engine.arm(windowId: "W03", staffId: nil, source: .keypad).staffId == "A1023")
    }

    @Test func subscribersSeeArmingAndThanks() async throws {
        let (engine, _) = engine()
        var updates = engine.updates(windowId: "W03").makeAsyncIterator()
        #expect(await updates.next()?.phase == .idle)
        try engine.arm(windowId: "W03", staffId: "A1023", source: .api)
        #expect(await updates.next()?.phase == .armed)
        let press = engine.press(windowId: "W03", pairedStaff: nil)
        engine.committed(press)
        #expect(await updates.next()?.phase == .thanks)
    }
}

extension SessionRuleTests {
    @Test func thanksLastsFiveSecondsThenTheDisplayIsIdleAgain() async throws {
        let (engine, clock) = engine(mode: .open)
        var updates = engine.updates(windowId: "W03").makeAsyncIterator()
        #expect(await updates.next()?.phase == .idle)
        engine.committed(engine.press(windowId: "W03", pairedStaff: "A1023"))
        #expect(await updates.next()?.phase == .thanks)
        clock.advance(ms: 4_999)
        #expect(engine.windowState("W03").phase == .thanks)
        clock.advance(ms: 1)
        _ = engine.takeEvents()   // the daemon's tick
        #expect(await updates.next()?.phase == .idle)
    }

    @Test func aPressThatCouldNotBeStoredLeavesTheSessionOpen() throws {
        let (engine, clock) = engine()
        let session = try engine.arm(windowId: "W03", staffId: "A1023", source: .api)
        let lost = engine.press(windowId: "W03", pairedStaff: nil)
        engine.failed(lost)
        clock.advance(ms: 1_000)
        let retry = engine.press(windowId: "W03", pairedStaff: nil)
        #expect(retry.session == session)
        #expect(retry.flags.isEmpty)
    }
}

/// Compares the part of a decision a test states: who is rated and how it is flagged.
enum PressDecisionMatcher {
    case staff(String?, flags: Set<RatingFlag>)

    static func == (decision: PressDecision, matcher: PressDecisionMatcher) -> Bool {
        switch matcher {
        case let .staff(staff, flags): decision.staffId == staff && decision.flags == flags
        }
    }
}

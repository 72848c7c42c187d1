import Foundation
import PingjiaCore
@testable import PingjiaHub
import Testing

/// The 差评 case workflow on both backends: one case per 差评, every state including the appeal,
/// illegal transitions refused with what is allowed, roles and halls, the audit trail, and
/// deadlines counted in working days.
@Suite struct CaseWorkflowTests {
    static let manager = AdminUser(name: "wang", role: .manager, hall: "东城大厅")
    static let otherManager = AdminUser(name: "li", role: .manager, hall: "西城大厅")
    static let auditor = AdminUser(name: "zhao", role: .auditor, hall: nil)

    func withStorage(_ backend: Backend, _ body: (any HubStorage) async throws -> Void) async throws {
        try await withTempDirectory { dir in
            let storage = try await backend.open(try backend.newDatabase(in: dir))
            do {
                try await body(storage)
            } catch {
                await storage.close()
                throw error
            }
            await storage.close()
        }
    }

    @Test(arguments: Backend.all)
    func everyBadRatingOpensExactlyOneCase(_ backend: Backend) async throws {
        try await withStorage(backend) { storage in
            var device = try await StoredDevice.make(storage, hall: "东城大厅", id: "pj-000000000001")
            let at = "2026-11-02T10:00:00.000+08:00"
            try await device.store((1...5).map { StoredDevice.rating(code: $0, at: at) }
                                   + [StoredDevice.rating(code: nil, at: at), StoredDevice.rating(code: 5, at: at, flags: [.test]),
                                      StoredDevice.rating(code: 4, at: at, flags: [.repeat])], in: storage)
            let workflow = CaseWorkflow(storage: storage, config: .empty)
            // Several sweeps at once (several hub instances) still open one case per 差评.
            let opened = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<4 { group.addTask { try await workflow.sweep() } }
                return try await group.reduce(0, +)
            }
            #expect(opened == 2)
            #expect(try await workflow.sweep() == 0)
            // A 差评 arriving after a sweep gets its case at the next one (the sweep reads on from its mark).
            try await device.store([StoredDevice.rating(code: 2, at: at), StoredDevice.rating(code: 4, at: at)], in: storage)
            #expect(try await workflow.sweep() == 1)
            #expect(try await workflow.sweep() == 0)
            let cases = try await workflow.list(for: Self.manager)
            #expect(cases.map(\.entry.code).sorted() == [4, 4, 5])
            #expect(cases.allSatisfy { $0.entry.state == .pending && $0.entry.hall == "东城大厅" && $0.entry.reasons == ["slow"] })
            // Another hall's manager sees none of them, and may not ask for this hall.
            #expect(try await workflow.list(for: Self.otherManager).isEmpty)
            await #expect(throws: CaseWorkflowError.forbidden("li may not see the cases of 东城大厅")) {
                try await workflow.list(for: Self.otherManager, hall: "东城大厅")
            }
            #expect(try await workflow.list(for: Self.auditor).count == 3)
        }
    }

    @Test(arguments: Backend.all)
    func aCaseGoesThroughEveryStateAndTheAppeal(_ backend: Backend) async throws {
        try await withStorage(backend) { storage in
            var device = try await StoredDevice.make(storage, hall: "东城大厅", id: "pj-000000000002")
            let at = "2026-11-02T10:00:00.000+08:00"
            try await device.store([4, 5, 5].map { StoredDevice.rating(code: $0, at: at) }, in: storage)
            let clock = TestClock(shanghai("2026-11-02 11:00"))
            let workflow = CaseWorkflow(storage: storage, config: .empty, now: { clock.now })
            let ids = try await workflow.list(for: Self.manager).map(\.entry.id).sorted()
            #expect(ids.count == 3)
            let (a, b, c) = (ids[0], ids[1], ids[2])

            // Illegal: a pending case can only be verified; the 409 says so.
            await #expect(throws: CaseWorkflowError.illegal(action: .rectify, state: .pending, allowed: [.verify])) {
                try await workflow.apply(id: a, CaseInput(action: .rectify, note: "x"), by: Self.manager)
            }
            // Roles and halls: the auditor does not verify; another hall's manager sees nothing.
            await #expect(throws: CaseWorkflowError.self) {
                try await workflow.apply(id: a, CaseInput(action: .verify, note: "x", verdict: .valid), by: Self.auditor)
            }
            await #expect(throws: CaseWorkflowError.forbidden("li may not see case \(a) (hall 东城大厅)")) {
                try await workflow.detail(id: a, for: Self.otherManager)
            }
            // Inputs: a verdict and a note are required.
            await #expect(throws: CaseWorkflowError.invalidInput("verify needs a verdict: valid, mistaken or malicious")) {
                try await workflow.apply(id: a, CaseInput(action: .verify, note: "看了录像"), by: Self.manager)
            }

            // Case a: 待核实 → 核实 (valid) → 整改 → 回访 → 办结 → 申诉复核 → upheld: back to 办结.
            var entry = try await workflow.apply(id: a, CaseInput(action: .verify, note: "调取录像，属实", verdict: .valid), by: Self.manager)
            #expect(entry.state == .verified && entry.verdict == .valid)
            entry = try await workflow.apply(id: a, CaseInput(action: .rectify, note: "窗口增加叫号提醒"), by: Self.manager)
            #expect(entry.state == .rectified)
            await #expect(throws: CaseWorkflowError.invalidInput("follow-up needs a result: satisfied, unsatisfied or unreachable")) {
                try await workflow.apply(id: a, CaseInput(action: .followUp, note: "电话回访"), by: Self.manager)
            }
            entry = try await workflow.apply(id: a, CaseInput(action: .followUp, note: "电话回访", result: "satisfied"), by: Self.manager)
            #expect(entry.state == .visited && entry.followUpResult == "satisfied")
            entry = try await workflow.apply(id: a, CaseInput(action: .close), by: Self.manager)
            #expect(entry.state == .closed)
            entry = try await workflow.apply(id: a, CaseInput(action: .appeal, note: "当事人称系误按"), by: Self.manager)
            #expect(entry.state == .appeal && entry.appealFrom == .closed && entry.appealed)
            // Only the auditor decides the appeal.
            await #expect(throws: CaseWorkflowError.forbidden("only an auditor decides an appeal (申诉复核)")) {
                try await workflow.apply(id: a, CaseInput(action: .review, note: "x", decision: "upheld"), by: Self.manager)
            }
            #expect(try await workflow.detail(id: a, for: Self.auditor).allowed == [.review])
            entry = try await workflow.apply(id: a, CaseInput(action: .review, note: "录像清楚，维持", decision: "upheld"), by: Self.auditor)
            #expect(entry.state == .closed && entry.verdict == .valid && entry.appealFrom == nil)
            // One appeal per case.
            await #expect(throws: CaseWorkflowError.illegal(action: .appeal, state: .closed, allowed: [])) {
                try await workflow.apply(id: a, CaseInput(action: .appeal, note: "again"), by: Self.manager)
            }

            // Case b: 误评 closes without rectification.
            entry = try await workflow.apply(id: b, CaseInput(action: .verify, note: "老人误按", verdict: .mistaken), by: Self.manager)
            #expect(try await workflow.detail(id: b, for: Self.manager).allowed == [.close])
            entry = try await workflow.apply(id: b, CaseInput(action: .close, note: "误评，不计入差评率"), by: Self.manager)
            #expect(entry.state == .closed && entry.verdict == .mistaken)

            // Case c: appeal from 核实, overturned to 恶意差评 → 办结.
            try await workflow.apply(id: c, CaseInput(action: .verify, note: "属实", verdict: .valid), by: Self.manager)
            entry = try await workflow.apply(id: c, CaseInput(action: .appeal, note: "该市民多次恶意评价"), by: Self.manager)
            #expect(entry.state == .appeal && entry.appealFrom == .verified)
            entry = try await workflow.apply(id: c, CaseInput(action: .review, note: "核查记录属实", decision: "malicious"), by: Self.auditor)
            #expect(entry.state == .closed && entry.verdict == .malicious)

            // The audit trail of case a: who, what, from and to, in order.
            let events = try await workflow.detail(id: a, for: Self.auditor).events
            #expect(events.map(\.action) == ["verify", "rectify", "follow-up", "close", "appeal", "review"])
            #expect(events.map(\.actor) == ["wang", "wang", "wang", "wang", "wang", "zhao"])
            #expect(events.map(\.toState) == [.verified, .rectified, .visited, .closed, .appeal, .closed])
            #expect(events.map(\.fromState) == [.pending, .verified, .rectified, .visited, .closed, .appeal])
            #expect(events[0].note == "属实：调取录像，属实")
            #expect(events[0].at == "2026-11-02T03:00:00.000Z")

            // Listing by state.
            #expect(try await workflow.list(for: Self.auditor, .state(.closed)).count == 3)
            #expect(try await workflow.list(for: Self.auditor).isEmpty)   // open ones only
            #expect(try await workflow.list(for: Self.auditor, .all).map(\.entry.id) == [c, b, a])   // newest first
        }
    }

    @Test(arguments: Backend.all)
    func twoUsersActingAtOnceMoveACaseOnce(_ backend: Backend) async throws {
        try await withStorage(backend) { storage in
            var device = try await StoredDevice.make(storage, hall: "东城大厅", id: "pj-000000000005")
            try await device.store([StoredDevice.rating(code: 5, at: "2026-11-02T10:00:00.000+08:00")], in: storage)
            let workflow = CaseWorkflow(storage: storage, config: .empty)
            let id = try #require(try await workflow.list(for: Self.manager).first?.entry.id)
            // Eight verifications at once (two browsers, several hub instances): one is applied,
            // the others are refused as changed meanwhile or no longer allowed.
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let verdict: CaseVerdict = index % 2 == 0 ? .valid : .mistaken
                        do {
                            try await workflow.apply(id: id, CaseInput(action: .verify, note: "核实 \(index)", verdict: verdict), by: Self.manager)
                            return true
                        } catch {
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
            #expect(try await storage.caseEvents(id: id).count == 1)
        }
    }

    @Test(arguments: Backend.all)
    func theKiosksReasonsFollowUpShowsOnTheCase(_ backend: Backend) async throws {
        try await withStorage(backend) { storage in
            var device = try await StoredDevice.make(storage, hall: "东城大厅", id: "pj-000000000004")
            var rating = StoredDevice.rating(code: 5, at: "2026-11-02T10:00:00.000+08:00")
            rating.reasons = []
            rating.comment = nil
            try await device.store([rating], in: storage)
            let workflow = CaseWorkflow(storage: storage, config: .empty)
            let id = try #require(try await workflow.list(for: Self.manager).first?.entry.id)
            // The citizen picks reasons after the press: a `reasons` record follows the rating.
            try await device.store([NewRating.reasons(for: rating, reasons: ["queue", "attitude"], comment: "排队太久", channel: .touch,
                                                      at: DeviceTime(wallClock: "2026-11-02T10:00:20.000+08:00", monotonicNs: 2))],
                                   in: storage)
            let entry = try await workflow.detail(id: id, for: Self.manager).view.entry
            #expect(entry.reasons == ["queue", "attitude"] && entry.comment == "排队太久")
            // The follow-up opens no case of its own.
            #expect(try await workflow.sweep() == 0)
        }
    }

    @Test func deadlinesCountWorkingDaysHolidaysAndWorkingWeekends() throws {
        let config = try CaseWorkflowConfig.parse(text: testWorkflowConfig, file: "workflow.toml")
        // Entered 待核实 on Wednesday 2026-09-30: Oct 1-7 are off (3, 4 a weekend), Oct 8 and 9
        // are working days, Saturday Oct 10 is a 调休 working day: due on Oct 10.
        let since = shanghai("2026-09-30 16:00")
        #expect(config.dueDay(state: .pending, since: since)?.text == "2026-10-10")
        #expect(!config.isOverdue(state: .pending, since: since, now: shanghai("2026-10-10 23:59")))
        #expect(config.isOverdue(state: .pending, since: since, now: shanghai("2026-10-11 00:00")))
        // Without the 调休 day it would be Monday Oct 12.
        var plain = config
        plain.workdays = []
        #expect(plain.dueDay(state: .pending, since: since)?.text == "2026-10-12")
        // A Friday start skips the weekend; a 调休 Sunday counts.
        #expect(config.dueDay(state: .visited, since: shanghai("2026-09-25 09:00"))?.text == "2026-09-28")
        #expect(plain.dueDay(state: .visited, since: shanghai("2026-09-25 09:00"))?.text == "2026-09-29")
        // The local date decides: 23:30 UTC on Sep 29 is already Sep 30 in the halls.
        #expect(config.dueDay(state: .pending, since: Date(timeIntervalSince1970: 1_790_724_600))?.text == "2026-10-10")
        // 办结 has no deadline.
        #expect(config.dueDay(state: .closed, since: since) == nil)
    }

    @Test func aBadWorkflowFileIsRefusedWithWhereAndWhy() {
        #expect(throws: (any Error).self) {
            try CaseWorkflowConfig.parse(text: "[deadlines]\npending = -1\n[calendar]\nholidays = [\"2026-02-30\"]\nworkdays = []\n", file: "w.toml")
        }
        do {
            _ = try CaseWorkflowConfig.parse(text: "[deadlines]\npending = 1\n[calendar]\nholidays = []\nworkdays = []\nextra = 1\n", file: "w.toml")
            Issue.record("accepted a file without most deadlines and with an unknown key")
        } catch {
            #expect("\(error)".contains("missing required key 'verified'"))
            #expect("\(error)".contains("unknown key 'extra'"))
        }
    }

    @Test func theShippedWorkflowFileLoads() throws {
        let config = try CaseWorkflowConfig.load(path: repositoryRoot.appendingPathComponent("hub/workflow.toml").path)
        #expect(config.deadlines[.pending] == 3)
        #expect(config.isWorkingDay(LocalDay("2026-10-10")!))
        #expect(config.isWorkingDay(LocalDay("2026-10-08")!))
        #expect(!config.isWorkingDay(LocalDay("2026-10-01")!))
    }

    @Test(arguments: Backend.all)
    func theOverdueListingFollowsTheCalendar(_ backend: Backend) async throws {
        try await withStorage(backend) { storage in
            var device = try await StoredDevice.make(storage, hall: "东城大厅", id: "pj-000000000003")
            try await device.store([StoredDevice.rating(code: 5, at: "2026-09-30T15:00:00.000+08:00")], in: storage,
                                   receivedAt: shanghai("2026-09-30 15:01"))
            // The sweep runs late (on Oct 9): the case is open from when the hub received the rating.
            let clock = TestClock(shanghai("2026-10-09 16:00"))
            let workflow = CaseWorkflow(storage: storage, config: try CaseWorkflowConfig.parse(text: testWorkflowConfig, file: "t"),
                                        now: { clock.now })
            let all = try await workflow.list(for: Self.manager)
            #expect(all.count == 1 && all[0].dueDay == "2026-10-10" && all[0].entry.openedAt == "2026-09-30T07:01:00.000Z")
            clock.set(shanghai("2026-10-09 18:00"))
            #expect(try await workflow.list(for: Self.manager, overdueOnly: true).isEmpty)
            clock.set(shanghai("2026-10-11 08:00"))
            #expect(try await workflow.list(for: Self.manager, overdueOnly: true).count == 1)
            // Verifying restarts the clock in the next state (7 working days from Oct 11).
            try await workflow.apply(id: all[0].entry.id, CaseInput(action: .verify, note: "属实", verdict: .valid), by: Self.manager)
            #expect(try await workflow.list(for: Self.manager, overdueOnly: true).isEmpty)
            #expect(try await workflow.list(for: Self.manager)[0].dueDay == "2026-10-20")
        }
    }
}

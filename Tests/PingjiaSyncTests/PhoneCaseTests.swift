import Foundation
import PingjiaCore
@testable import PingjiaHub
import Testing

/// Phone ratings (扫码评价) join the 差评 cases and the reports beside the devices' records.
@Suite struct PhoneCaseTests {
    static func phone(_ code: Int, _ at: String, hall: String = "东城大厅") -> PhoneRating {
        PhoneRating(hall: hall, deviceId: "pj-0000000000p1", staffId: "A1001", windowId: "3", matterCode: "M1", caseNo: nil,
                    scale: "five", code: code, reasons: code >= 4 ? ["attitude"] : [], comment: nil, source: .sticker,
                    tokenNonce: nil, client: "c1", ratedAt: shanghai(at))
    }

    /// The kiosk cannot know that a citizen rated on the phone: the session times out there and
    /// its 未评价 record reaches the hub too. The report counts the phone rating, not the 未评价.
    @Test(arguments: Backend.all)
    func aSessionAnsweredOnThePhoneIsNotCountedUnrated(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let storage = try await backend.open(try backend.newDatabase(in: dir))
            do {
                var device = try await StoredDevice.make(storage, hall: "东城大厅", id: "pj-0000000000p1")
                var answered = StoredDevice.rating(code: nil, at: "2026-11-02T10:00:00.000+08:00")
                answered.id = UUID()
                let unanswered = StoredDevice.rating(code: nil, at: "2026-11-02T10:20:00.000+08:00")
                try await device.store([answered, unanswered, StoredDevice.rating(code: 1, at: "2026-11-02T10:30:00.000+08:00")], in: storage)
                var byPhone = Self.phone(2, "2026-11-02 10:03")
                byPhone.source = .token
                byPhone.tokenNonce = answered.id.uuidString.lowercased()
                #expect(try await storage.storePhoneRating(byPhone) == .stored)
                // A token of another device with the same nonce does not answer this device's session.
                var other = Self.phone(3, "2026-11-02 10:04")
                other.deviceId = "pj-0000000000p2"
                other.source = .token
                other.tokenNonce = unanswered.id.uuidString.lowercased()
                #expect(try await storage.storePhoneRating(other) == .stored)
                let workflow = CaseWorkflow(storage: storage, config: .empty)
                let report = try await workflow.report(ReportQuery(from: "2026-11-02", to: "2026-11-02", hall: "东城大厅", by: .staff))
                #expect(report.total.ratings == 3 && report.total.good == 2 && report.total.basic == 1)
                #expect(report.total.unrated == 1, "the unanswered session only")
            } catch {
                await storage.close()
                throw error
            }
            await storage.close()
        }
    }

    @Test(arguments: Backend.all)
    func phoneBadRatingsOpenCasesAndPhoneRatingsCountInReports(_ backend: Backend) async throws {
        try await withTempDirectory { dir in
            let storage = try await backend.open(try backend.newDatabase(in: dir))
            do {
                var device = try await StoredDevice.make(storage, hall: "东城大厅", id: "pj-0000000000p1")
                try await device.store([StoredDevice.rating(code: 5, at: "2026-11-02T10:00:00.000+08:00"),
                                        StoredDevice.rating(code: 1, at: "2026-11-02T10:05:00.000+08:00")], in: storage)
                // 23:30 on Nov 2 in the hall is still Nov 2 there (15:30 UTC); 00:10 on Nov 3 is Nov 3.
                for rating in [Self.phone(4, "2026-11-02 23:30"), Self.phone(2, "2026-11-03 00:10"),
                               Self.phone(5, "2026-11-03 09:00", hall: "西城大厅")] {
                    #expect(try await storage.storePhoneRating(rating) == .stored)
                }
                let workflow = CaseWorkflow(storage: storage, config: .empty)
                let cases = try await workflow.list(for: AdminUser(name: "zhao", role: .auditor, hall: nil))
                #expect(cases.count == 3 && cases.filter { $0.entry.source == "phone" }.count == 2)
                #expect(try await workflow.sweep() == 0)
                let phoneCase = try #require(cases.first { $0.entry.source == "phone" && $0.entry.hall == "东城大厅" })
                #expect(phoneCase.entry.reasons == ["attitude"] && phoneCase.entry.ratedAt == "2026-11-02T15:30:00.000Z")
                #expect(phoneCase.entry.openedAt == "2026-11-02T15:30:00.000Z")
                try await workflow.apply(id: phoneCase.entry.id, CaseInput(action: .verify, note: "误按", verdict: .mistaken),
                                         by: AdminUser(name: "wang", role: .manager, hall: "东城大厅"))
                let report = try await workflow.report(ReportQuery(from: "2026-11-02", to: "2026-11-03", hall: "东城大厅", by: .day))
                // Nov 2: the device's 5 (not yet verified) and 1, the phone's 4 (误评); Nov 3: the phone's 2.
                #expect(report.lines.map(\.key) == ["2026-11-02", "2026-11-03"])
                #expect(report.lines[0].ratings == 3 && report.lines[0].bad.unverified == 1 && report.lines[0].bad.mistaken == 1)
                #expect(report.lines[1].ratings == 1 && report.lines[1].good == 1)
                #expect(report.total.badRate == ReportRate(1, 3))
                let west = try await workflow.report(ReportQuery(from: "2026-11-01", to: "2026-11-30", hall: "西城大厅"))
                #expect(west.total.ratings == 1 && west.total.bad.unverified == 1)
            } catch {
                await storage.close()
                throw error
            }
            await storage.close()
        }
    }
}

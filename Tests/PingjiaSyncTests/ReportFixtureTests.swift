import Foundation
import PingjiaCore
@testable import PingjiaHub
import Testing

/// The report's figures against an answer computed independently: Tests/Fixtures/reports holds
/// ratings with their case outcomes (ratings.csv) and, from make_expected.py, the figures of
/// several queries (expected.json). The ratings go into a hub, the cases are driven through the
/// workflow to their outcomes, and each query's report must equal the expected one.
@Suite struct ReportFixtureTests {
    static let directory = repositoryRoot.appendingPathComponent("Tests/Fixtures/reports")

    struct Row {
        let fields: [String: String]
        subscript(_ name: String) -> String { fields[name] ?? "" }
    }

    static func rows() throws -> [Row] {
        let text = try String(contentsOf: directory.appendingPathComponent("ratings.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let header = lines[0]
        return lines.dropFirst().map { Row(fields: Dictionary(uniqueKeysWithValues: zip(header, $0))) }
    }

    /// Loads the fixture into `storage`: records per device, then each case to its outcome.
    static func load(into storage: any HubStorage) async throws {
        let rows = try rows()
        var outcomes: [String: Row] = [:]
        var devices: [String: StoredDevice] = [:]
        var order: [String] = []
        var pending: [String: [NewRating]] = [:]
        for row in rows {
            let device = row["device"]
            if devices[device] == nil {
                devices[device] = try await StoredDevice.make(storage, hall: row["hall"], id: device)
                order.append(device)
            }
            let code = row["kind"] == "unrated" ? nil : Int(row["code"])
            let rating = StoredDevice.rating(code: code, staff: row["staff"], window: row["window"], matter: row["matter"],
                                             at: row["rated_at"], flags: row["flags"].isEmpty ? [] : [RatingFlag(rawValue: row["flags"])])
            pending[device, default: []].append(rating)
            if !row["verdict"].isEmpty { outcomes[rating.id.uuidString.lowercased()] = row }
        }
        for device in order { try await devices[device]!.store(pending[device]!, in: storage) }

        let workflow = CaseWorkflow(storage: storage, config: .empty)
        let auditor = AdminUser(name: "zhao", role: .auditor, hall: nil)
        for view in try await workflow.list(for: auditor) {
            let entry = view.entry
            guard let row = outcomes[entry.ratingId.lowercased()] else { continue }
            let manager = AdminUser(name: "wang", role: .manager, hall: entry.hall)
            let verdict = try #require(CaseVerdict(rawValue: row["verdict"]))
            try await workflow.apply(id: entry.id, CaseInput(action: .verify, note: "核实", verdict: verdict), by: manager)
            if verdict == .valid, !row["follow_up"].isEmpty {
                try await workflow.apply(id: entry.id, CaseInput(action: .rectify, note: "整改"), by: manager)
                try await workflow.apply(id: entry.id, CaseInput(action: .followUp, note: "回访", result: row["follow_up"]), by: manager)
            }
        }
    }

    @Test(arguments: Backend.all)
    func reportsReproduceTheIndependentlyComputedFigures(_ backend: Backend) async throws {
        let expected = try JSONDecoder().decode([Report].self, from: Data(contentsOf: Self.directory.appendingPathComponent("expected.json")))
        #expect(expected.count == 6)
        try await withTempDirectory { dir in
            let storage = try await backend.open(try backend.newDatabase(in: dir))
            do {
                try await Self.load(into: storage)
                let workflow = CaseWorkflow(storage: storage, config: .empty)
                for want in expected {
                    let query = ReportQuery(from: want.from, to: want.to, hall: want.hall, by: want.by.flatMap(ReportQuery.Grouping.init(rawValue:)))
                    let got = try await workflow.report(query)
                    #expect(got.total == want.total, "total of \(query)")
                    #expect(got.lines == want.lines, "lines of \(query)")
                    #expect(got == want)
                }
                // Mistaken and malicious 差评 stay visible as cases.
                let closed = try await storage.cases(states: [.verified], hall: nil, limit: 1000)
                #expect(closed.contains { $0.verdict == .mistaken } && closed.contains { $0.verdict == .malicious })
            } catch {
                await storage.close()
                throw error
            }
            await storage.close()
        }
    }

    @Test func ratesRoundHalfUpToTwoDecimals() {
        #expect(ReportRate(40, 23_119).percent == "0.17")
        #expect(ReportRate(1, 8).percent == "12.50")
        #expect(ReportRate(1, 80_000).percent == "0.00")
        #expect(ReportRate(1, 20_000).percent == "0.01")      // 0.005 % rounds up
        #expect(ReportRate(2, 3).percent == "66.67")
        #expect(ReportRate(3, 3).percent == "100.00")
        #expect(ReportRate(0, 0).percent == nil)
    }
}

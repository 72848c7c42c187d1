import ArgumentParser
import Foundation
import PingjiaHub

/// `pingjia-hub report`: the figures the halls publish, over local dates (Asia/Shanghai).
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Ratings, good, 基本满意, 差评 by verdict, bad rate, unrated rate and 回访 rate over a date range.",
        discussion: """
            Dates are the halls' local dates (Asia/Shanghai), both included. Device records and phone ratings both count; \
            flagged ratings (test, repeat, unarmed, suspect-burst, …) do not. bad rate = (valid + not yet verified 差评) / (ratings - mistaken - malicious); \
            unrated rate = 未评价 / (ratings + 未评价); 回访 rate = valid 差评 called back / valid 差评; \
            percentages rounded half up to two decimals. 差评 without a case get one first.
            """)

    @OptionGroup var hubOptions: HubOptions
    @Option(help: "First local date, YYYY-MM-DD.") var from: String
    @Option(help: "Last local date, YYYY-MM-DD (included).") var to: String
    @Option(help: "Only this hall.") var hall: String?
    @Option(help: "One line per staff, window, matter or day.") var by: String?
    @Option(help: "table, csv or json.") var format = "table"

    func run() async throws {
        do {
            var grouping: ReportQuery.Grouping?
            if let by {
                guard let known = ReportQuery.Grouping(rawValue: by) else { throw Failure("--by must be staff, window, matter or day, not '\(by)'") }
                grouping = known
            }
            guard ["table", "csv", "json"].contains(format) else { throw Failure("--format must be table, csv or json, not '\(format)'") }
            let query = ReportQuery(from: from, to: to, hall: hall, by: grouping)
            try Report.validate(query)
            let storage = try await hubOptions.open().storage
            let report: Report
            do {
                report = try await CaseWorkflow(storage: storage, config: .empty).report(query)
            } catch {
                await storage.close()
                throw error
            }
            await storage.close()
            switch format {
            case "csv": print(report.csv(), terminator: "")
            case "json": print(report.json(), terminator: "")
            default: print(report.table(), terminator: "")
            }
        } catch {
            Self.fail(error)
        }
    }
}

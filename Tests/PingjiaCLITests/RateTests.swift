import Foundation
import PingjiaCore
import PingjiaStore
import Testing

@Suite struct RateTests {
    @Test func testRatingIsCommittedAndFlagged() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let result = try pingjia(["rate", "--staff", "A1023", "--level", "4", "--reason", "slow"], state: state)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.hasPrefix("committed seq 1:"), "\(result)")

            let records = try storedRecords(state)
            #expect(records.count == 1)
            let record = try #require(records.first)
            #expect(record.seq == 1 && record.prevHash == .genesis)
            #expect(record.rating.flags == [.test])
            #expect(record.rating.staffId == "A1023" && record.rating.windowId == "3")
            #expect(record.rating.level == 4 && record.rating.code?.rawValue == 4 && record.rating.scale == "five")
            #expect(record.rating.reasons == ["slow"] && record.rating.channel == .keypad)
            #expect(record.deviceId == (try deviceId(of: state)))
            #expect(result.stdout.contains("hash \(record.hash.hex)"), "\(result)")
        }
    }

    @Test(arguments: [
        (["--staff", "Z9999", "--level", "4"], "Z9999"),
        (["--staff", "A1023", "--level", "9"], "level 9"),
        (["--staff", "A1023", "--level", "4", "--reason", "too-cold"], "too-cold"),
    ])
    func badInputIsRefusedWithOneLineAndNothingAppended(arguments: [String], culprit: String) throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let good = try pingjia(["rate", "--staff", "A1024", "--level", "1"], state: state)
            #expect(good.status == 0, "\(good)")

            let result = try pingjia(["rate"] + arguments, state: state)
            #expect(result.status != 0, "\(result)")
            #expect(result.stderrLines.count == 1, "expected one line on stderr: \(result)")
            #expect(result.stderr.hasPrefix("pingjia: "), "\(result)")
            #expect(result.stderr.contains(culprit), "\(result)")
            #expect(!result.stdout.contains("committed"), "\(result)")
            #expect(try storedRecords(state).map(\.seq) == [1], "a refused rating must not be appended")
        }
    }

    @Test func rateBeforeInitSaysToRunInit() throws {
        try withTempDir { dir in
            let state = dir.appendingPathComponent("never-initialised")
            let result = try pingjia(["rate", "--staff", "A1023", "--level", "1"], state: state)
            #expect(result.status != 0, "\(result)")
            #expect(result.stderrLines.count == 1 && result.stderr.hasPrefix("pingjia: ") && result.stderr.contains("pingjia init"),
                    "\(result)")
            #expect(!FileManager.default.fileExists(atPath: state.appendingPathComponent("pingjia.db").path))
        }
    }

    /// Reads what the CLI committed through the store API, as the daemon would.
    private func storedRecords(_ state: URL) throws -> [RatingRecord] {
        let store = try KioskStore.open(path: state.appendingPathComponent("pingjia.db").path, deviceId: deviceId(of: state))
        defer { store.close() }
        return try store.records(after: 0)
    }
}

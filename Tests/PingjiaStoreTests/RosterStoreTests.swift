import Foundation
import GRDB
import PingjiaCore
import PingjiaStore
import Testing

@Suite struct RosterStoreTests {
    static let windows = [ServiceWindow(id: "3", name: "综合受理3号窗口"), ServiceWindow(id: "4", name: "综合受理4号窗口")]
    static let staff = [
        Staff(id: "A1023", name: "张三", windowId: "3", photo: "A1023.png",
              matters: ["11000000000000000X4440111700001", "11000000000000000X4440111700002"]),
        Staff(id: "A1024", name: "李四", windowId: "4"),
        Staff(id: "A1025", name: "王五", windowId: "4"),
    ]

    @Test func importUpsertsAndReplaceRemoves() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            #expect(try store.importRoster(staff: Self.staff, windows: Self.windows, replace: false)
                    .counts == [3, 0, 0])
            #expect(try store.staff(id: "A1023") == Self.staff[0])
            #expect(try store.staff(id: "A1024")?.photo == nil)
            #expect(try store.staff(id: "Z9") == nil)
            #expect(try store.windows() == Self.windows)

            // Without replace, people missing from the file stay.
            let moved = Staff(id: "A1024", name: "李四", windowId: "5")
            #expect(try store.importRoster(staff: [moved], windows: [ServiceWindow(id: "5", name: "不动产登记窗口")], replace: false)
                    .counts == [0, 1, 0])
            #expect(try store.staff().map(\.id).sorted() == ["A1023", "A1024", "A1025"])
            #expect(try store.staff(id: "A1024")?.windowId == "5")

            // With replace, the file is the whole roster.
            let renamedWindow = ServiceWindow(id: "3", name: "综合受理窗口（3）")
            let newcomer = Staff(id: "B2001", name: "赵六", windowId: "3", matters: ["11000000000000000X4440111700003"])
            let summary = try store.importRoster(staff: [Self.staff[0], newcomer], windows: [renamedWindow], replace: true)
            #expect(summary.counts == [1, 1, 2])
            #expect(try store.staff() == [Self.staff[0], newcomer])
            #expect(try store.staff(id: "A1025") == nil)
            #expect(try store.windows().first { $0.id == "3" }?.name == "综合受理窗口（3）")
        }
    }

    /// The store trusts the parsed roster (the CSV reader validates it), so no input makes an
    /// insert fail naturally; a trigger planted in the file refuses the third person instead,
    /// after windows and two people were already written in the same transaction.
    @Test func failedImportAppliesNothing() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            _ = try store.importRoster(staff: Self.staff, windows: Self.windows, replace: false)
            let staffBefore = try store.staff()
            let windowsBefore = try store.windows()

            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            let raw = try DatabaseQueue(path: storePath(dir), configuration: configuration)
            try raw.write { db in
                try db.execute(sql: """
                    CREATE TRIGGER test_refuses_x9 BEFORE INSERT ON staff WHEN new.staff_id = 'X9'
                    BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                    """)
            }
            try raw.close()

            let batch = [Staff(id: "A1023", name: "张三丰", windowId: "9"), Staff(id: "B2001", name: "赵六", windowId: "9"),
                         Staff(id: "X9", name: "拒绝", windowId: "9")]
            let error = #expect(throws: StoreError.self) {
                try store.importRoster(staff: batch, windows: [ServiceWindow(id: "9", name: "新窗口")], replace: true)
            }
            #expect(error?.description.contains("refused by the test") == true, "\(String(describing: error))")
            #expect(try store.staff() == staffBefore)
            #expect(try store.windows() == windowsBefore)
        }
    }
}

@Suite struct DeviceIdentityTests {
    @Test func storeOfAnotherDeviceIsRefused() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            try store.append(fullRating(1))
            store.close()

            let error = #expect(throws: StoreError.self) { try KioskStore.open(path: storePath(dir), deviceId: deviceB) }
            guard case .belongsToAnotherDevice(let path, let storeDevice, let expected) = error else {
                Issue.record("expected belongsToAnotherDevice, got \(String(describing: error))")
                return
            }
            #expect(path == storePath(dir) && storeDevice == deviceA && expected == deviceB)

            // The refusal changed nothing: device A still owns its one record.
            let again = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { again.close() }
            #expect(again.deviceId == deviceA)
            #expect(try again.records(after: 0).map(\.deviceId) == [deviceA])
        }
    }
}

extension RosterImportSummary {
    /// added, updated, removed
    var counts: [Int] { [added, updated, removed] }
}

import PingjiaCore
import PingjiaRoster
import Testing

@Suite struct RosterDiffTests {
    let zhang = Staff(id: "A1023", name: "张三", windowId: "3")
    let li = Staff(id: "A1024", name: "李四", windowId: "4")
    let wang = Staff(id: "B2001", name: "王五", windowId: "5")

    @Test func addedChangedAndRemovedEachGetALine() {
        var moved = li
        moved.windowId = "6"
        let diff = RosterDiff(current: [zhang, li, wang], incoming: [zhang, moved, Staff(id: "C1", name: "赵六", windowId: "3")], replace: true)
        #expect(diff.lines == ["+ C1 赵六, window 3", "~ A1024 李四: window 4 → 6", "- B2001 王五, window 5"])
    }

    @Test func withoutReplaceNobodyIsRemovedAndTheSameFileChangesNothing() {
        #expect(RosterDiff(current: [zhang, li], incoming: [zhang], replace: false).isEmpty)
        #expect(RosterDiff(current: [zhang, li], incoming: [zhang, li], replace: true).isEmpty)
    }
}

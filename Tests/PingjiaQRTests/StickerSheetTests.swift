import Foundation
import Testing
@testable import PingjiaQR

@Suite struct StickerSheetTests {
    func stickers(_ count: Int) -> [Sticker] {
        (1...count).map { Sticker(name: "测试<\($0)>&", staffId: "S\($0)", windowId: "\($0 % 4)", payload: "https://h.example/r/d/S\($0)") }
    }

    @Test(arguments: [(1, 1), (12, 1), (13, 2), (60, 5)])
    func twelveStickersToAPage(count: Int, pages: Int) throws {
        var seen: [Int] = []
        let sheet = try StickerSheet.pages(stickers(count)) { seen.append($0) }
        #expect(sheet.count == pages)
        #expect(seen == Array(1...count), "progress counts every sticker once")
        #expect(sheet.last?.components(separatedBy: "<svg x=").count == (count - 1) % 12 + 2)
    }

    @Test func namesAreEscapedAndThePageIsA4InMillimetres() throws {
        let page = try #require(try StickerSheet.pages(stickers(1)).first)
        #expect(page.contains("测试&lt;1&gt;&amp;"))
        #expect(!page.contains("测试<1>"))
        #expect(page.contains("width=\"210mm\" height=\"297mm\" viewBox=\"0 0 210 297\""))
    }

    /// The nested symbol decodes on its own too: the same path data as `svg`.
    @Test func aStickerCodeDecodes() throws {
        let page = try #require(try StickerSheet.pages([Sticker(name: "张三", staffId: "A1", windowId: "3", payload: "https://h.example/r/x/A1")]).first)
        #expect(Bytes(try decodeSVG(page)) == Bytes("https://h.example/r/x/A1"))
    }
}

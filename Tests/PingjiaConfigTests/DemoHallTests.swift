import Foundation
import Testing
@testable import PingjiaConfig

/// `make run`'s demo hall: its config is valid and has one open and one armed window, and every
/// photo the demo roster names is a committed PNG (the display serves it from photos/).
@Suite struct DemoHallTests {
    @Test func hallConfigHasAnOpenAndAnArmedWindow() throws {
        let url = repositoryRoot.appendingPathComponent("demo/hall.toml")
        let config = try KioskConfig.parse(text: String(decoding: try Data(contentsOf: url), as: UTF8.self), file: url.path)
        #expect(config.sessions.mode("3") == .open)
        #expect(config.sessions.mode("4") == .armed)
        #expect(config.web.listen == "127.0.0.1" && config.web.port == 8080)
    }

    @Test func everyRosterPhotoIsACommittedPNG() throws {
        let csv = String(decoding: try Data(contentsOf: repositoryRoot.appendingPathComponent("demo/roster.csv")), as: UTF8.self)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(rows.first?.firstIndex(of: "照片"))
        let photos = rows.dropFirst().map { String($0[column]) }
        #expect(photos.count == 3 && photos.allSatisfy { !$0.isEmpty }, "\(photos)")
        for photo in photos {
            let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("demo/photos/\(photo)"))
            #expect(data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(photo) is not a PNG")
            #expect(data.count < 4096, "\(photo): keep demo photos small")
        }
    }
}

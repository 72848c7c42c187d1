import Foundation
import HummingbirdTesting
import PingjiaCore
import PingjiaKiosk
import PingjiaStore
import Testing

@Suite struct DisplayTests {
    @Test func displayPageShowsTheStaffAndAScannableQRCodeOfTheirRatingURL() async throws {
        let kiosk = try WebKiosk(config: "[qr]\nurl_template = \"https://pj.example/r/{windowId}/{staffId}\"\n")
        let dir = kiosk.dir
        try await kiosk.withServer { client in
            _ = try await client.post("/api/v1/windows/W03/staff", json: #"{"staffId":"A1023","status":"signed-in"}"#)
            let page = try await client.get("/display/W03")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            let html = page.text
            #expect(html.contains("张三") && html.contains("A1023") && html.contains("W03"))
            #expect(html.contains("new EventSource("))
            // The inline SVG scales by its viewBox and CSS, at 8 CSS px per module.
            let start = try #require(html.range(of: "<svg"))
            let end = try #require(html.range(of: "</svg>"))
            let svg = String(html[start.lowerBound..<end.upperBound])
            #expect(svg.contains("viewBox=\"0 0 "))
            let side = try #require(svg.firstMatch(of: /viewBox="0 0 (\d+) \d+"/).flatMap { Int($0.1) })
            #expect(svg.contains("width:\(side * 8)px"))
            // Rendered at 1 px per viewBox unit × 8 and decoded, it is the staff member's URL.
            try Data(svg.replacingOccurrences(of: "style=\"width:\(side * 8)px;height:\(side * 8)px\"",
                                              with: "width=\"\(side * 8)\" height=\"\(side * 8)\"").utf8)
                .write(to: dir.appendingPathComponent("qr.svg"))
            let rsvg = try tool("rsvg-convert", package: "librsvg2-bin")
            let rendered = try run(rsvg, ["-o", dir.appendingPathComponent("qr.png").path, dir.appendingPathComponent("qr.svg").path])
            #expect(rendered.status == 0)
            let zbar = try tool("zbarimg", package: "zbar-tools")
            let decoded = try run(zbar, ["--raw", "-q", "--nodbus", "-Sbinary", dir.appendingPathComponent("qr.png").path])
            #expect(decoded.status == 0)
            #expect(String(decoding: decoded.out, as: UTF8.self) == "https://pj.example/r/W03/A1023")
        }
    }

    @Test func displayUpdatesArriveAsServerSentEvents() async throws {
        let kiosk = try WebKiosk()
        try await kiosk.withServer { client in
            let port = try #require(client.port)
            let events = try RawConnection(port: port, request: "GET /display/W03/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
            let first = try await events.wait(for: #""windowId":"W03"}"#)
            #expect(first.contains("text/event-stream"))
            #expect(first.contains(#""staffName":"张三""#))   // the roster's staff of W03 until someone signs in
            let signin = try await client.post("/api/v1/windows/W03/staff", json: #"{"staffId":"A1024","status":"signed-in"}"#)
            #expect(signin.status == .ok)
            _ = try await events.wait(for: #""staffName":"李四""#)
            _ = try await client.post("/api/v1/windows/W03/session", json: #"{}"#)
            let armed = try await events.wait(for: "请您对我的服务进行评价")
            #expect(armed.contains(#""phase":"armed""#))
            let pause = try await client.post("/api/v1/windows/W03/staff", json: #"{"status":"paused"}"#)
            #expect(pause.status == .ok)
            _ = try await events.wait(for: "暂停服务")
            let press = kiosk.sessions.press(windowId: "W03", pairedStaff: nil)
            kiosk.sessions.committed(press)
            _ = try await events.wait(for: "谢谢您的评价")
            // An idle stream gets a comment line now and then (200 ms here, 15 s in pingjiad).
            _ = try await events.wait(for: ": keep-alive", count: 2)
        }
    }

    @Test func aDisplayThatGoesAwayIsForgotten() async throws {
        let kiosk = try WebKiosk()
        try await kiosk.withServer { client in
            let port = try #require(client.port)
            var events: RawConnection? = try RawConnection(port: port, request: "GET /display/W03/events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            _ = try await events?.wait(for: #""windowId":"W03"}"#)
            #expect(kiosk.sessions.subscriberCount == 1)
            events = nil   // closes the socket
            // The next keep-alive cannot be written: the stream ends and unsubscribes.
            let deadline = Date().addingTimeInterval(10)
            while kiosk.sessions.subscriberCount > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(kiosk.sessions.subscriberCount == 0)
        }
    }

    @Test func theStaffPhotoIsShownFromThePhotosFolder() async throws {
        let kiosk = try WebKiosk()
        _ = try kiosk.kiosk.store.importRoster(staff: [Staff(id: "A1023", name: "张三", windowId: "W03", photo: "a1023.png")],
                                               windows: [ServiceWindow(id: "W03", name: "3号窗口")], replace: true)
        let photo = Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])
        try FileManager.default.createDirectory(at: kiosk.dir.appendingPathComponent("photos"), withIntermediateDirectories: true)
        try photo.write(to: kiosk.dir.appendingPathComponent("photos/a1023.png"))
        try await kiosk.withServer { client in
            let page = try await client.get("/display/W03")
            #expect(page.text.contains(#"<img id="photo" alt="" src="/display/W03/photo">"#))
            let image = try await client.get("/display/W03/photo")
            #expect(image.status == .ok)
            #expect(image.headers[.contentType] == "image/png")
            #expect(Data(image.body.readableBytesView) == photo)
            let none = try await client.get("/display/W04/photo")
            #expect(none.status == .notFound)
        }
    }

    @Test func aWindowWithNobodyToShowSaysSo() async throws {
        let kiosk = try WebKiosk()
        try await kiosk.withServer { client in
            let page = try await client.get("/display/W99")
            #expect(page.status == .ok)
            #expect(page.text.contains("本窗口暂停服务"))
            #expect(!page.text.contains("<svg"))
        }
    }

    @Test func theStarsAreTheStaffsRecentCountedRatingsOnly() async throws {
        let kiosk = try WebKiosk()
        // Counted: 非常满意, 非常满意, 满意 -> 5, 5, 4 stars = 4.7.
        for level in [1, 1, 2] { _ = try kiosk.kiosk.rate(staffId: "A1023", level: level, channel: .keypad) }
        // Not counted: a flagged press, a 未评价, a follow-up, another staff member's rating.
        let bad = try kiosk.kiosk.rate(staffId: "A1023", level: 5, channel: .touch)
        _ = try kiosk.kiosk.rate(staffId: "A1023", level: 5, channel: .keypad, flags: [.repeat])
        try kiosk.kiosk.recordUnrated(staffId: "A1023", windowId: "W03", matterCode: nil, caseNo: nil, channel: .keypad)
        _ = try kiosk.kiosk.addReasons(to: bad.rating.id, reasons: ["slow"], comment: nil, channel: .touch)
        _ = try kiosk.kiosk.rate(staffId: "A1024", level: 5, channel: .keypad)
        // 5, 5, 4 and the unflagged 非常不满意 (1 star): 15 / 4 = 3.75 -> 3.8.
        #expect(try kiosk.kiosk.store.recentSatisfaction(staffId: "A1023") == RecentSatisfaction(count: 4, stars: 3.75))
        #expect(try kiosk.kiosk.store.recentSatisfaction(staffId: "A1023", limit: 3).count == 3)
        try await kiosk.withServer { client in
            let page = try await client.get("/display/W03").text
            #expect(page.contains(#"★★★★☆<span class="score">3.8</span><span class="count">近4次评价</span>"#), "\(page)")
            let empty = try await client.get("/display/W99").text
            #expect(empty.contains(#"<div id="stars"></div>"#), "no ratings, no stars")
        }
    }
}

import Foundation
import PingjiaCore
import PingjiaSync

/// What every printed or shown QR code must be: a link that opens the staff member's phone page
/// (HTTP 200 with their name on it), checked the way a phone would open it (system CAs; the
/// kiosk's `ca_bundle` pins the hub's sync address, which may not be the public one).
public enum PhoneLinkCheck {
    public struct Link: Sendable {
        public let url: String
        public let staffId: String
        public let name: String

        public init(url: String, staffId: String, name: String) {
            self.url = url
            self.staffId = staffId
            self.name = name
        }
    }

    /// The one line to print when the template is a placeholder; nil when it is a real link.
    public static func placeholderProblem(_ template: URLTemplate) -> String? {
        guard template.isPlaceholder else { return nil }
        return "the QR link is the placeholder \(template.template), which no phone can open: enroll with a hub started with "
            + "`pingjia-hub serve --public-url https://…` (pingjia setup / pingjia enroll), or set [qr] url_template in pingjia.toml"
    }

    /// Nil when `link` answers 200 with the name on the page; otherwise what is wrong, in one line.
    public static func problem(_ link: Link, timeout: Duration = .seconds(10)) async -> String? {
        let transport: HTTPHubTransport
        do { transport = try HTTPHubTransport(baseURL: link.url, timeout: timeout) } catch {
            return "cannot open \(link.url): \(error)"
        }
        let response: HubResponse
        do {
            response = try await transport.send(method: "GET", path: "", headers: [], body: nil)
            await transport.shutdown()
        } catch {
            await transport.shutdown()
            return "the QR link of \(link.staffId) \(link.url) cannot be reached (\(error)): check [qr] url_template and that the hub's --public-url is reachable from here"
        }
        guard response.status == 200 else {
            let hint = response.status == 404
                ? "the hub does not know this device or this staff member: check the hub's roster (`pingjia-hub roster list --hall …`)"
                : "check [qr] url_template and the hub's --public-url"
            return "the QR link of \(link.staffId) \(link.url) answers HTTP \(response.status): \(hint)"
        }
        let page = String(decoding: response.body, as: UTF8.self)
        guard page.contains(link.name) || page.contains(HTML.escape(link.name)) else {
            return "the QR link of \(link.staffId) \(link.url) opens a page without the name \(link.name): check [qr] url_template"
        }
        return nil
    }

    /// Every link, a few at a time; the problems in the order of `links`.
    public static func problems(_ links: [Link], atOnce: Int = 4) async -> [String] {
        var found: [(Int, String)] = []
        await withTaskGroup(of: (Int, String?).self) { group in
            var next = 0
            func add() {
                guard next < links.count else { return }
                let index = next, link = links[index]
                next += 1
                group.addTask { (index, await problem(link)) }
            }
            for _ in 0..<atOnce { add() }
            for await (index, problem) in group {
                if let problem { found.append((index, problem)) }
                add()
            }
        }
        return found.sorted { $0.0 < $1.0 }.map(\.1)
    }
}

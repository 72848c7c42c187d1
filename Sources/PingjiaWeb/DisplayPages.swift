import Foundation
import Hummingbird
import PingjiaConfig
import PingjiaCore
import PingjiaKiosk
import PingjiaQR
import ServiceLifecycle

/// What one window display shows at a moment; the page renders it, and every change is sent to
/// the open page as a server-sent event of the same JSON, so the page never reloads.
struct DisplayModel: Encodable, Equatable {
    var windowId: String
    var staffId: String?
    var staffName: String?
    var photoURL: String?
    var status: String
    /// 暂停服务 and the like; empty while serving.
    var banner: String
    var phase: String
    /// 请您对我的服务进行评价 while a session is armed (or the window is always open), 谢谢 after a rating.
    var prompt: String
    var ratingURL: String?
    var qrSVG: String?
    /// The staff member's recent satisfaction (last `recentRatings` counted ratings), e.g. "4.6".
    var stars: String?
    /// Filled stars of five, rounded to the nearest half: "★★★★½" style text for the page.
    var starsText: String
    var starsCount: Int
}

struct DisplayPages: Sendable {
    let web: WebContext
    /// How often an idle event stream gets a comment line.
    let heartbeat: Duration

    /// How many of the staff member's latest counted ratings the stars average.
    static let recentRatings = 100

    /// CSS pixels per QR module: above the 4 a phone needs from a metre away, in a 1080p layout.
    static let qrPixelsPerModule = 8

    func register(on router: Router<BasicRequestContext>) {
        router.get("/display/:window") { _, context in
            let model = try model(try windowParameter(context))
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: Self.page(model))))
        }
        router.get("/display/:window/events") { _, context in
            let windowId = try windowParameter(context)
            let updates = web.sessions.updates(windowId: windowId)
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
                body: ResponseBody { writer in
                    // Changes and a periodic comment line in one stream: the comment keeps idle
                    // connections open through proxies and, by failing to write, ends the stream of
                    // a display that went away without closing its connection.
                    let (chunks, input) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(32))
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            var last: DisplayModel?
                            for await _ in updates {
                                guard let current = try? model(windowId), current != last,
                                      let text = try? Self.jsonText(current) else { continue }
                                last = current
                                input.yield("event: state\ndata: \(text)\n\n")
                            }
                            input.finish()
                        }
                        group.addTask {
                            while !Task.isCancelled {
                                try? await Task.sleep(for: heartbeat)
                                input.yield(": keep-alive\n\n")
                            }
                        }
                        for await chunk in chunks.cancelOnGracefulShutdown() {
                            try await writer.write(ByteBuffer(string: chunk))
                        }
                        group.cancelAll()
                    }
                    try await writer.finish(nil)
                })
        }
        router.get("/display/:window/photo") { _, context in
            let model = try model(try windowParameter(context))
            guard let staffId = model.staffId, let photo = try web.kiosk.store.staff(id: staffId)?.photo,
                  let data = FileManager.default.contents(atPath: "\(web.kiosk.location.stateDirectory)/photos/\(photo)") else {
                throw Problem(.notFound, "no photo", detail: "the staff member at this window has no photo in photos/ of the state directory")
            }
            let type = photo.lowercased().hasSuffix(".png") ? "image/png" : "image/jpeg"
            return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    /// The staff member shown: the one signed in, else the one a `[[keypad]]` at this window rates,
    /// else the roster's first at this window (`WebContext.currentStaff`).
    func model(_ windowId: String) throws -> DisplayModel {
        let state = web.sessions.windowState(windowId)
        let kiosk = web.kiosk
        let staff = try web.currentStaff(windowId: windowId)
        let banner = switch state.status {
        case .paused: "暂停服务"
        case .away: "暂时离开，请稍候"
        case .signedOut: staff == nil ? "本窗口暂停服务" : ""
        case .signedIn: ""
        }
        let prompt = switch state.phase {
        case .thanks: "谢谢您的评价"
        case .armed: "请您对我的服务进行评价"
        case .idle: state.mode == .open && banner.isEmpty ? "请您对我的服务进行评价" : ""
        }
        var url: String?
        var svg: String?
        if let staff {
            var link = kiosk.config.qrURLTemplate.expand(deviceId: kiosk.deviceId, staffId: staff.id, windowId: windowId)
            // While a transaction is open, its own signed code (一事一评) instead of the staff's sticker code.
            if state.phase == .armed, let session = state.session, let tokens = web.phoneTokens {
                let rated = session.staffId ?? staff.id
                link = kiosk.config.qrURLTemplate.expand(deviceId: kiosk.deviceId, staffId: rated, windowId: windowId)
                link += (link.contains("?") ? "&" : "?") + "t=" + tokens.token(for: session, staffId: rated)
            }
            url = link
            if let matrix = try? QRMatrix(payload: link, errorCorrection: kiosk.config.qrErrorCorrection) {
                svg = Self.sizedSVG(matrix)
            }
        }
        let recent = staff.flatMap { try? kiosk.store.recentSatisfaction(staffId: $0.id, limit: Self.recentRatings) }
        return DisplayModel(windowId: windowId, staffId: staff?.id, staffName: staff?.name,
                            photoURL: staff?.photo == nil ? nil : "/display/\(windowId)/photo",
                            status: state.status.rawValue, banner: banner, phase: state.phase.rawValue, prompt: prompt,
                            ratingURL: url, qrSVG: svg, stars: recent?.stars.map { Self.oneDecimal($0) },
                            starsText: Self.starsText(recent?.stars), starsCount: recent?.count ?? 0)
    }

    /// "4.6": one decimal, computed on integers so no locale or float formatting differs.
    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    /// Five star glyphs, filled to the mean rounded to the nearest whole star; empty with no ratings.
    static func starsText(_ stars: Double?) -> String {
        guard let stars else { return "" }
        let filled = max(0, min(5, Int(stars.rounded())))
        return String(repeating: "★", count: filled) + String(repeating: "☆", count: 5 - filled)
    }

    /// The renderer's SVG with its pixel size moved to CSS: the viewBox keeps the modules square
    /// and the width keeps each module at `qrPixelsPerModule` CSS pixels.
    static func sizedSVG(_ matrix: QRMatrix) -> String {
        let options = QRRenderOptions(moduleSize: 1, quietZone: 4)
        let side = (matrix.size + 2 * options.quietZone) * qrPixelsPerModule
        let svg = QRRenderer.svg(matrix, options: options)
        guard let widthRange = svg.range(of: #" width="\d+" height="\d+""#, options: .regularExpression) else { return svg }
        return svg.replacingCharacters(in: widthRange, with: #" class="qr" style="width:\#(side)px;height:\#(side)px""#)
    }

    static func jsonText(_ model: DisplayModel) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(model), as: UTF8.self)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Text sizes in vh so the page reads the same on any screen; at 1080p the name is 86 px and the
    /// prompt 65 px, legible from 3 m.
    static func page(_ model: DisplayModel) -> String {
        let e = escape
        return """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(e(model.windowId)) 窗口</title>
        <style>
        html,body{margin:0;height:100%;background:#f4f6f8;color:#1a1a1a;
          font-family:"Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",sans-serif}
        main{display:grid;grid-template-columns:1fr auto;gap:4vh 6vw;padding:5vh 5vw;box-sizing:border-box;height:100%}
        #banner{grid-column:1/3;font-size:7vh;font-weight:700;color:#fff;background:#c62828;text-align:center;border-radius:1vh}
        #banner:empty{display:none}
        .who{display:flex;gap:4vw;align-items:center}
        #photo{height:36vh;border-radius:1vh;object-fit:cover}
        #photo[src=""]{display:none}
        #name{font-size:8vh;font-weight:700}
        .meta{font-size:5vh;margin-top:2vh}
        #qr svg.qr{display:block;max-height:60vh;max-width:40vw;width:auto;height:auto}
        #qr .hint{font-size:3.5vh;text-align:center}
        #stars{font-size:5vh;margin-top:2vh;color:#f9a825}
        #stars .score{color:#1a1a1a;margin-left:1vw}
        #stars .count{color:#555;font-size:3vh;margin-left:1vw}
        #prompt{grid-column:1/3;font-size:6vh;font-weight:700;text-align:center;color:#0d47a1}
        #prompt.thanks{color:#2e7d32}
        </style></head>
        <body><main>
        <div id="banner">\(e(model.banner))</div>
        <div class="who">
          <img id="photo" alt="" src="\(e(model.photoURL ?? ""))">
          <div><div id="name">\(e(model.staffName ?? ""))</div>
          <div class="meta">工号 <span id="staff">\(e(model.staffId ?? "—"))</span></div>
          <div class="meta"><span id="window">\(e(model.windowId))</span> 号窗口</div>
          <div id="stars">\(Self.starsHTML(model))</div></div>
        </div>
        <div id="qr">\(model.qrSVG ?? "")<div class="hint">扫码评价</div></div>
        <div id="prompt" class="\(e(model.phase))">\(e(model.prompt))</div>
        </main>
        <script>
        // Live updates: the daemon sends the whole model on every change; EventSource reconnects by itself.
        const source = new EventSource("/display/" + encodeURIComponent(\(jsonString(model.windowId))) + "/events");
        source.addEventListener("state", (event) => {
          const m = JSON.parse(event.data);
          document.getElementById("banner").textContent = m.banner;
          document.getElementById("name").textContent = m.staffName || "";
          document.getElementById("staff").textContent = m.staffId || "—";
          document.getElementById("photo").setAttribute("src", m.photoURL || "");
          const qr = document.getElementById("qr");
          qr.querySelector("svg")?.remove();
          if (m.qrSVG) qr.insertAdjacentHTML("afterbegin", m.qrSVG);
          document.getElementById("stars").innerHTML = m.stars
            ? m.starsText + '<span class="score">' + m.stars + '</span><span class="count">近' + m.starsCount + '次评价</span>' : "";
          const prompt = document.getElementById("prompt");
          prompt.textContent = m.prompt;
          prompt.className = m.phase;
        });
        </script>
        </body></html>
        """
    }

    /// The same markup the page's script writes on each update.
    static func starsHTML(_ model: DisplayModel) -> String {
        guard let stars = model.stars else { return "" }
        return #"\#(model.starsText)<span class="score">\#(stars)</span><span class="count">近\#(model.starsCount)次评价</span>"#
    }

    private static func jsonString(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

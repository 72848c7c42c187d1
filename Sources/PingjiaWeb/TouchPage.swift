import Foundation
import Hummingbird
import PingjiaCore

/// `GET /touch/{window}`: the rating screen of an all-in-one kiosk. Server-rendered from the
/// hall's scale: one big button per level. A press commits the level at once
/// (`POST /api/v1/windows/{w}/rating`); a bad level then opens the reasons (multi-select), a
/// comment box and 跳过, sent as a follow-up (`POST /api/v1/ratings/{id}/reasons`); then 谢谢 for
/// a few seconds and back to the levels. A citizen who walks away from the reasons screen has
/// still rated: it goes back to the levels after `reasonsTimeoutMs`. No framework: the kiosk
/// browser may be old.
struct TouchPage: Sendable {
    let web: WebContext

    /// How long the reasons screen waits for a touch before going back to the levels.
    static let reasonsTimeoutMs = 60_000
    /// How long 谢谢 stays.
    static let thanksMs = 5_000

    func register(on router: Router<BasicRequestContext>) {
        router.get("/touch/:window") { _, context in
            let windowId = try windowParameter(context)
            let scale: Scale
            do { scale = try web.kiosk.scale() } catch {
                throw Problem(.serviceUnavailable, "no rating scale", detail: "\(error)")
            }
            let staff = try web.currentStaff(windowId: windowId)
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: Self.page(windowId: windowId, scale: scale, staffName: staff?.name))))
        }
    }

    static func page(windowId: String, scale: Scale, staffName: String?) -> String {
        let e = DisplayPages.escape
        let levels = scale.levels.map { level in
            #"<button class="level\#(level.isBad ? " bad" : "")" data-level="\#(level.value)" data-bad="\#(level.isBad)">\#(e(level.label))</button>"#
        }.joined(separator: "\n")
        let reasons = scale.reasons.map { reason in
            #"<label class="reason"><input type="checkbox" value="\#(e(reason.code))"> \#(e(reason.label))</label>"#
        }.joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="zh-CN"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(e(windowId)) 窗口 评价</title>
        <style>
        html,body{margin:0;height:100%;background:#f4f6f8;color:#1a1a1a;font-family:"Noto Sans CJK SC","Source Han Sans SC",sans-serif}
        main{display:flex;flex-direction:column;align-items:center;justify-content:center;min-height:100%;gap:3vh;padding:2vh}
        section{text-align:center}
        h1{font-size:6vh;margin:0 0 3vh}
        .levels{display:flex;flex-wrap:wrap;gap:2vh;justify-content:center}
        button{font:inherit;border:0;border-radius:2vh;cursor:pointer}
        .level{font-size:5vh;min-width:28vw;min-height:14vh;background:#2e7d32;color:#fff}
        .level.bad{background:#c62828}
        .reasons{display:flex;flex-wrap:wrap;gap:1.5vh;justify-content:center;max-width:90vw}
        .reason{font-size:3.5vh;background:#fff;border-radius:1.5vh;padding:1.5vh 2vh}
        .reason input{transform:scale(1.8);margin-right:1vh}
        textarea{font:inherit;font-size:3vh;width:80vw;height:14vh}
        #submit{font-size:4.5vh;padding:2vh 6vw;background:#1565c0;color:#fff}
        #skip{font-size:4.5vh;padding:2vh 6vw;background:#ddd}
        #thanks h1{font-size:12vh;color:#2e7d32}
        #error{color:#c62828;font-size:3.5vh;min-height:4vh}
        [hidden]{display:none!important}
        </style></head>
        <body><main>
        <section id="choose">
          <h1>\(e(staffName.map { "请您对\($0)的服务进行评价" } ?? "请您对本次服务进行评价"))</h1>
          <div class="levels">
        \(levels)
          </div>
        </section>
        <section id="why" hidden>
          <h1>已收到您的评价。请选择不满意的原因（可多选）</h1>
          <div class="reasons">
        \(reasons)
          </div>
          <p><textarea id="comment" maxlength="\(RatingChoice.maxComment)" placeholder="意见或建议（选填）"></textarea></p>
          <p><button id="submit">提交原因</button> <button id="skip">跳过</button></p>
        </section>
        <section id="thanks" hidden><h1>谢谢您的评价</h1></section>
        <p id="error"></p>
        </main>
        <script>
        (function(){
          var api = "/api/v1/windows/\(e(windowId))/rating";
          var ratingId = null, busy = false, idleTimer = null;
          function $(id){ return document.getElementById(id); }
          function show(id){ ["choose","why","thanks"].forEach(function(s){ $(s).hidden = s !== id; }); }
          function reset(){
            ratingId = null; busy = false; $("comment").value = ""; $("error").textContent = "";
            Array.prototype.forEach.call(document.querySelectorAll(".reason input"), function(b){ b.checked = false; });
            show("choose");
          }
          function idleSoon(ms){ clearTimeout(idleTimer); idleTimer = setTimeout(reset, ms); }
          function thanks(){ busy = false; show("thanks"); idleSoon(\(Self.thanksMs)); }
          function post(url, body, done){
            var x = new XMLHttpRequest();
            x.open("POST", url); x.setRequestHeader("Content-Type", "application/json");
            x.onload = function(){
              var reply = {}; try { reply = JSON.parse(x.responseText); } catch (e) {}
              done(x.status, reply);
            };
            x.onerror = function(){ done(0, {}); };
            x.send(JSON.stringify(body));
          }
          // The level is committed first; 谢谢 or the reasons screen only once it is stored.
          Array.prototype.forEach.call(document.querySelectorAll(".level"), function(b){
            b.addEventListener("click", function(){
              if (busy) return;
              busy = true;
              post(api, {level: parseInt(b.getAttribute("data-level"), 10)}, function(status, reply){
                busy = false;
                if (status !== 201) {
                  $("error").textContent = "评价未能保存，请重试。" + (reply.detail || "");
                  idleSoon(60000); return;
                }
                if (reply.bad) { ratingId = reply.id; show("why"); idleSoon(\(Self.reasonsTimeoutMs)); }
                else thanks();
              });
            });
          });
          $("submit").addEventListener("click", function(){
            if (busy || !ratingId) return;
            busy = true;
            var reasons = Array.prototype.filter.call(document.querySelectorAll(".reason input"), function(b){ return b.checked; })
              .map(function(b){ return b.value; });
            var body = {reasons: reasons};
            var comment = $("comment").value.trim();
            if (comment) body.comment = comment;
            if (!reasons.length && !comment) { thanks(); return; }   // nothing chosen: as 跳过
            post("/api/v1/ratings/" + ratingId + "/reasons", body, function(status, reply){
              // The rating is stored whatever happens here: thank the citizen either way.
              if (status !== 201) $("error").textContent = reply.detail || "";
              thanks();
            });
          });
          $("skip").addEventListener("click", thanks);
        })();
        </script>
        </body></html>
        """
    }
}

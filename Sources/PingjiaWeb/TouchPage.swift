import Foundation
import Hummingbird
import PingjiaCore

/// `GET /touch/{window}`: the rating screen of an all-in-one kiosk. Server-rendered from the
/// hall's scale: one big button per level; a bad level opens the reasons (multi-select) and a
/// comment box; the rating goes to `POST /api/v1/windows/{w}/rating` in one request, then 谢谢
/// for a few seconds and back to the level buttons. No framework: the kiosk browser may be old.
struct TouchPage: Sendable {
    let web: WebContext

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
        h1{font-size:6vh;margin:0}
        .levels{display:flex;flex-wrap:wrap;gap:2vh;justify-content:center}
        button{font:inherit;border:0;border-radius:2vh;cursor:pointer}
        .level{font-size:5vh;min-width:28vw;min-height:14vh;background:#2e7d32;color:#fff}
        .level.bad{background:#c62828}
        .reasons{display:flex;flex-wrap:wrap;gap:1.5vh;justify-content:center;max-width:90vw}
        .reason{font-size:3.5vh;background:#fff;border-radius:1.5vh;padding:1.5vh 2vh}
        .reason input{transform:scale(1.8);margin-right:1vh}
        textarea{font:inherit;font-size:3vh;width:80vw;height:14vh}
        #submit{font-size:4.5vh;padding:2vh 6vw;background:#1565c0;color:#fff}
        #back{font-size:3.5vh;padding:1.5vh 4vw;background:#ddd}
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
          <h1>请选择不满意的原因（可多选）</h1>
          <div class="reasons">
        \(reasons)
          </div>
          <p><textarea id="comment" maxlength="\(TouchRatingAPI.maxComment)" placeholder="意见或建议（选填）"></textarea></p>
          <p><button id="submit">提交评价</button> <button id="back">返回</button></p>
        </section>
        <section id="thanks" hidden><h1>谢谢您的评价</h1></section>
        <p id="error"></p>
        </main>
        <script>
        (function(){
          var api = "/api/v1/windows/\(e(windowId))/rating";
          var chosen = null, idleTimer = null;
          function $(id){ return document.getElementById(id); }
          function show(id){ ["choose","why","thanks"].forEach(function(s){ $(s).hidden = s !== id; }); }
          function reset(){
            chosen = null; $("comment").value = ""; $("error").textContent = "";
            Array.prototype.forEach.call(document.querySelectorAll(".reason input"), function(b){ b.checked = false; });
            show("choose");
          }
          function idleSoon(ms){ clearTimeout(idleTimer); idleTimer = setTimeout(reset, ms); }
          function send(body){
            var x = new XMLHttpRequest();
            x.open("POST", api); x.setRequestHeader("Content-Type", "application/json");
            x.onload = function(){
              if (x.status === 201) { show("thanks"); idleSoon(5000); return; }
              var detail = ""; try { detail = JSON.parse(x.responseText).detail || ""; } catch (e) {}
              $("error").textContent = "评价未能保存，请重试。" + detail; idleSoon(60000);
            };
            x.onerror = function(){ $("error").textContent = "评价未能保存，请重试。"; idleSoon(60000); };
            x.send(JSON.stringify(body));
          }
          Array.prototype.forEach.call(document.querySelectorAll(".level"), function(b){
            b.addEventListener("click", function(){
              chosen = parseInt(b.getAttribute("data-level"), 10);
              if (b.getAttribute("data-bad") === "true") { show("why"); idleSoon(60000); }
              else send({level: chosen});
            });
          });
          $("submit").addEventListener("click", function(){
            var reasons = Array.prototype.filter.call(document.querySelectorAll(".reason input"), function(b){ return b.checked; })
              .map(function(b){ return b.value; });
            var body = {level: chosen, reasons: reasons};
            var comment = $("comment").value.trim();
            if (comment) body.comment = comment;
            send(body);
          });
          $("back").addEventListener("click", reset);
        })();
        </script>
        </body></html>
        """
    }
}

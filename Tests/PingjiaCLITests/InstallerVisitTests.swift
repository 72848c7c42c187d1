import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// The installer's visit exactly as the README writes it (the shell block after the
/// `installer-visit` marker), with the built binaries: a 30-staff roster, then every sticker of
/// the sheet, rendered at 300 dpi, decodes to a link that answers 200 with that person's name.
///
/// Only the surroundings are the test's: `HUB` (the README's "the hub's address") is a local hub
/// started with `--public-url`, `PINGJIA_STATE_DIR` and `PINGJIA_HUB_DB` put kiosk and hub in a
/// scratch folder, and `systemctl` is a stand-in that starts the built `pingjiad` and returns once
/// it is ready, as systemd does for a `Type=notify` unit (its local web on a free port: 8080 may
/// be taken on a shared machine).
@Suite struct InstallerVisitTests {
    static func readmeVisit() throws -> String {
        let readme = try String(contentsOf: repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let marker = readme.range(of: "<!-- installer-visit"),
              let open = readme.range(of: "```sh\n", range: marker.upperBound..<readme.endIndex),
              let close = readme.range(of: "```", range: open.upperBound..<readme.endIndex) else {
            throw SupportError("README.md has no ```sh block after an <!-- installer-visit --> marker")
        }
        return String(readme[open.upperBound..<close.lowerBound])
    }

    /// One GET, as a phone opening the link: status and page.
    static func get(_ link: String) throws -> (Int, String) {
        let done = DispatchSemaphore(value: 0)
        let result = Locked<(Int, String)?>(nil)
        URLSession.shared.dataTask(with: URL(string: link)!) { data, response, _ in
            result.mutate { $0 = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self)) }
            done.signal()
        }.resume()
        guard done.wait(timeout: .now() + 30) == .success, let answer = result.value else { throw SupportError("no answer from \(link)") }
        return answer
    }

    @Test func theReadmeVisitEndsWithStickersThatOpenEachStaffMembersPhonePage() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("visit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let visit = try Self.readmeVisit()
        #expect(visit.contains("pingjia setup") && visit.contains("pingjia qr sheet --output stickers.pdf"), "\(visit)")
        _ = try generatedRoster(30, perWindow: 10, in: dir)
        let hubDB = dir.appendingPathComponent("hub/hub.db")
        try FileManager.default.createDirectory(at: hubDB.deletingLastPathComponent(), withIntermediateDirectories: true)
        let (hub, hubURL) = try SyncCLITests.startHub(db: hubDB, in: dir)
        defer { hub.stop() }
        let state = dir.appendingPathComponent("state")
        let shims = dir.appendingPathComponent("shims")
        try FileManager.default.createDirectory(at: shims, withIntermediateDirectories: true)
        try Data("""
            #!/bin/sh
            [ "$1 $2" = "start pingjiad" ] || { echo "systemctl stand-in: only 'start pingjiad'" >&2; exit 1; }
            sed -i 's/^listen = "127.0.0.1:8080"/listen = "127.0.0.1:\(try freePort())"/' "$PINGJIA_STATE_DIR/pingjia.toml"
            pingjiad > pingjiad.log 2>&1 &
            echo $! > pingjiad.pid
            for _ in $(seq 200); do grep -q "local web listening" pingjiad.log && exit 0; sleep 0.1; done
            cat pingjiad.log >&2; exit 1

            """.utf8).write(to: shims.appendingPathComponent("systemctl"))
        chmod(shims.appendingPathComponent("systemctl").path, 0o755)

        var env: [String: String] = [:]
        env["PATH"] = [shims.path, try binDirectory.get().path, ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"].joined(separator: ":")
        env["HUB"] = hubURL
        env["PINGJIA_STATE_DIR"] = state.path
        env["PINGJIA_HUB_DB"] = hubDB.path
        env["VISIT"] = visit
        // The visit's exit status is written by a wrapping shell and read from a file: waiting on
        // the child with Process was seen to hang here after the block's last command had exited.
        let shell = try RunningProcess("/bin/bash", ["-c", #"bash -e -c "$VISIT" > visit.log 2>&1; echo $? > visit.status"#],
                                       in: dir, environment: env)
        defer { shell.stop(SIGKILL) }
        let statusFile = dir.appendingPathComponent("visit.status")
        let deadline = Date().addingTimeInterval(300)
        while !FileManager.default.fileExists(atPath: statusFile.path) && Date() < deadline { Thread.sleep(forTimeInterval: 0.2) }
        Thread.sleep(forTimeInterval: 0.2)
        let status = (try? String(contentsOf: statusFile, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let daemonPID = (try? String(contentsOf: dir.appendingPathComponent("pingjiad.pid"), encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        defer { if let daemonPID { kill(daemonPID, SIGTERM) } }
        let transcript = (try? String(contentsOf: dir.appendingPathComponent("visit.log"), encoding: .utf8)) ?? ""
        #expect(status == 0, "\(transcript)\n--- hub\n\(hub.log)")
        #expect(transcript.contains("✓ roster sent to the hub"), "\(transcript)")
        #expect(transcript.contains("✓ phone link "), "\(transcript)")

        let pages = try renderPDF(dir.appendingPathComponent("stickers.pdf"), dpi: 300, in: dir)
        #expect(pages.count == 3)
        var decoded: [String] = []
        for page in pages { decoded += try decodeAllQRCodes(page, in: dir) }
        let device = try deviceId(of: state)
        let names = Dictionary(uniqueKeysWithValues: (1...30).map { index in
            ("S\(String(format: "%03d", index))", "\(["张", "李", "王", "赵", "陈", "刘"][index % 6])测试\(index)")
        })
        #expect(Set(decoded) == Set(names.keys.map { "\(hubURL)/r/\(device)/\($0)" }), "\(decoded)")
        #expect(decoded.count == 30)
        for link in decoded {
            let staffId = String(link.split(separator: "/").last ?? "")
            let (status, page) = try Self.get(link)
            #expect(status == 200, "\(link)")
            #expect(page.contains(names[staffId] ?? "?"), "\(link) lacks \(names[staffId] ?? "?")")
        }
    }
}

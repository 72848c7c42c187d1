import Foundation
import PingjiaConfig
import Testing

@Suite struct ConfigFileEditorTests {
    static let text = """
        # hall notes: keypads were re-cabled on 2026-11-02

        [[keypad]]
        port = "1-1"        # left of the counter
        serial = "PJ5-1"
        window = "3"
        # Windows whose rules differ:
        [[window]]
        id = "3"
        mode = "open"

        [[keypad]]
        port = "1-2"
        staff = "A1024"

        """

    @Test func removingAKeypadKeepsEveryCommentAndTheNextTable() throws {
        var editor = ConfigFileEditor(path: "/nonexistent/pingjia.toml", text: Self.text)
        let removed = editor.removeKeypads { port, _, _, _ in port == "1-1" }
        #expect(removed == 1)
        #expect(editor.text.hasPrefix("# hall notes: keypads were re-cabled on 2026-11-02\n# Windows whose rules differ:\n[[window]]"), "\(editor.text)")
        #expect(editor.text.contains("[[keypad]]\nport = \"1-2\"\nstaff = \"A1024\""))
    }

    @Test func anAppendedKeypadIsParsedAsAWindowPairing() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("pingjia.toml").path
            var editor = ConfigFileEditor(path: path, text: Self.text)
            editor.appendKeypad(port: "1-4", serial: "S \"q\"", window: "7")
            let config = try editor.save()
            #expect(config.keypads.count == 3)
            #expect(config.keypads.last == KeypadPairing(port: "1-4", serial: "S \"q\"", staffId: nil, windowId: "7"))
            #expect(try String(contentsOfFile: path, encoding: .utf8) == editor.text)
            // No temp file left beside it.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["pingjia.toml"])
        }
    }

    @Test func anEditThatWouldBreakTheConfigIsNotWritten() throws {
        try withTemporaryDirectory { dir in
            let path = dir.appendingPathComponent("pingjia.toml").path
            try write("[log]\nlevel = \"info\"\n", to: URL(fileURLWithPath: path))
            var editor = try ConfigFileEditor(path: path)
            editor.appendKeypad(port: "1-4", serial: nil, window: "7")
            editor = ConfigFileEditor(path: path, text: editor.text + "[log]\n")
            #expect(throws: ConfigEditError.self) { try editor.save() }
            #expect(try String(contentsOfFile: path, encoding: .utf8) == "[log]\nlevel = \"info\"\n")
        }
    }

    @Test func aDeviceIsFoundByPortAndSerialBeforeSerialAlone() {
        let pairings = [KeypadPairing(port: "1-1", serial: "0001", staffId: nil, windowId: "3"),
                        KeypadPairing(port: "1-2", serial: "0001", staffId: nil, windowId: "4"),
                        KeypadPairing(port: "1-5", serial: nil, staffId: nil, windowId: "5")]
        #expect(KeypadPairing.find(in: pairings, port: "1-2", serial: "0001")?.windowId == "4")
        #expect(KeypadPairing.find(in: pairings, port: "1-9", serial: "0001")?.windowId == "3")
        #expect(KeypadPairing.find(in: pairings, port: "1-5", serial: "X")?.windowId == "5")
        #expect(KeypadPairing.find(in: pairings, port: "1-6", serial: nil) == nil)
    }
}

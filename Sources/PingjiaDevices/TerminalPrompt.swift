import PingjiaCore

/// What a touch terminal's `prompt` command is filled with (the profile's command template names
/// these values): the staff member, the question, and the scale's levels and reasons as
/// `value:label` items joined by the profile's `listSeparator`.
public enum TerminalPrompt {
    public static func values(scale: Scale?, staffName: String, separator: String) -> [String: String] {
        [
            "staffName": staffName,
            "prompt": "请您对本次服务进行评价",
            "levels": (scale?.levels ?? []).map { "\($0.value):\($0.label)" }.joined(separator: separator),
            "reasons": (scale?.reasons ?? []).map { "\($0.code):\($0.label)" }.joined(separator: separator),
        ]
    }
}

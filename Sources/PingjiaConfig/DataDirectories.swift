import Foundation

/// Finds Pingjia's shipped data folders (`scales/`, later `devices/`).
///
/// Installed, they live in `/usr/share/pingjia/<kind>` (or `<prefix>/share/pingjia/<kind>` next
/// to the binary); in a source checkout they sit beside `Package.swift`, which is found by walking
/// up from the running executable, so `make run` and the tests use the files being edited.
/// `PINGJIA_DATA_DIR` overrides all of it.
public enum DataDirectories {
    public static let systemDataDirectory = "/usr/share/pingjia"

    public static func shipped(_ kind: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               executable: String = DataDirectories.runningExecutable) -> String? {
        candidates(kind, environment: environment, executable: executable)
            .first { isDirectory($0) }
    }

    /// The running binary's real path: argv[0] is a bare name when started from $PATH, which would
    /// make `<prefix>/share/pingjia` resolve against the working directory.
    public static var runningExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
    }

    static func candidates(_ kind: String, environment: [String: String], executable: String) -> [String] {
        if let root = environment["PINGJIA_DATA_DIR"], !root.isEmpty {
            return [(root as NSString).appendingPathComponent(kind)]
        }
        var result: [String] = []
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        result.append(binary.deletingLastPathComponent().appendingPathComponent("share/pingjia/\(kind)").path)
        var directory = binary
        while directory.path != "/" && !directory.path.isEmpty {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("Package.swift").path) {
                result.append(directory.appendingPathComponent(kind).path)
                break
            }
            directory.deleteLastPathComponent()
        }
        result.append((systemDataDirectory as NSString).appendingPathComponent(kind))
        return result
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}

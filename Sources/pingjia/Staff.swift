import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import PingjiaConfig

/// `pingjia staff signin|pause|away|signout`: tells the running daemon who serves at a window,
/// through its local API (`[web]` of the config), the same way the keypad's keys and a business
/// system do.
struct StaffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "staff",
        abstract: "Sign a staff member in or out at a window, or pause service (暂停服务), on the running pingjiad.",
        discussion: """
            pingjia staff signin --window W03 --staff A1023
            pingjia staff pause --window W03
            pingjia staff signout --window W03
            """
    )

    enum Action: String, ExpressibleByArgument, CaseIterable {
        case signin, pause, away, signout

        var status: String {
            switch self {
            case .signin: "signed-in"
            case .pause: "paused"
            case .away: "away"
            case .signout: "signed-out"
            }
        }
    }

    @Argument(help: "signin, pause, away or signout.")
    var action: Action

    @Option(help: "The window's id, as in the roster.")
    var window: String

    @Option(help: "工号 of the staff member (default: whoever is at the window).")
    var staff: String?

    @OptionGroup var state: StateOptions

    func run() async throws {
        do {
            let config: KioskConfig
            do { config = try KioskConfig.load(state.location) } catch { throw Failure(error.description) }
            // A daemon listening on every address is still reached on loopback.
            let host = config.web.listen == "0.0.0.0" || config.web.listen == "::" ? "127.0.0.1" : config.web.listen
            let hostPart = host.contains(":") ? "[\(host)]" : host
            guard let url = URL(string: "http://\(hostPart):\(config.web.port)/api/v1/windows/\(window)/staff") else {
                throw Failure("window '\(window)' cannot be part of a URL: use the window id from the roster")
            }
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            var body = ["status": action.status]
            if let staff { body["staffId"] = staff }
            request.httpBody = try JSONEncoder().encode(body)
            let data: Data
            let response: URLResponse
            do {
                (data, response) = try await URLSession.shared.data(for: request)
            } catch {
                throw Failure("cannot reach pingjiad at \(url.host ?? host):\(config.web.port) ([web] listen of the config): is it running? (\(error.localizedDescription))")
            }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard (200..<300).contains(status) else {
                let problem = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
                throw Failure("pingjiad refused (HTTP \(status)): \(problem?["detail"] as? String ?? String(decoding: data, as: UTF8.self))")
            }
            FileHandle.standardOutput.write(data)
            FileHandle.standardOutput.write(Data("\n".utf8))
        } catch {
            Self.fail(error)
        }
    }
}

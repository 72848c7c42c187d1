import ArgumentParser
import Foundation
import PingjiaConfig
import PingjiaSync

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
            let base = "http://\(hostPart):\(config.web.port)", path = "/api/v1/windows/\(window)/staff"
            guard URL(string: base + path) != nil else {
                throw Failure("window '\(window)' cannot be part of a URL: use the window id from the roster")
            }
            var body = ["status": action.status]
            if let staff { body["staffId"] = staff }
            // The client the CLI already has for the hub (FoundationNetworking would bring libcurl
            // into the packaged, statically linked binary for this one request).
            let transport = try HTTPHubTransport(baseURL: base, timeout: .seconds(10))
            let response: HubResponse
            do {
                response = try await transport.send(method: "POST", path: path, headers: [], body: Array(try JSONEncoder().encode(body)))
                await transport.shutdown()
            } catch {
                await transport.shutdown()
                throw Failure("cannot reach pingjiad at \(host):\(config.web.port) ([web] listen of the config): is it running? (\(error))")
            }
            let data = Data(response.body), status = response.status
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

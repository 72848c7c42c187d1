import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PingjiaHub

/// Admin users of the hub's web pages: hall managers (one hall) and auditors (all halls).
struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Admin users of the hub's web pages (/admin): hall managers and auditors.",
        subcommands: [Add.self, List.self, Passwd.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a user; the password comes from a prompt, --password-file or one line on standard input.",
            discussion: "A manager works on the 差评 cases of one hall (--hall); an auditor sees every hall and decides appeals.")
        @OptionGroup var hubOptions: HubOptions
        @Argument(help: "The user name to sign in with.") var name: String
        @Option(help: "manager or auditor.") var role: String
        @Option(help: "The manager's hall (as in `pingjia-hub devices add --hall`).") var hall: String?
        @Option(name: .customLong("password-file"), help: "A file holding the password (first line).") var passwordFile: String?

        func run() async throws {
            do {
                guard let role = AdminUserRecord.Role(rawValue: role) else { throw Failure("--role must be manager or auditor, not '\(role)'") }
                guard Users.validName(name) else { throw Failure("user name '\(name)' must be 1-64 letters, digits, '.', '_' or '-'") }
                switch role {
                case .manager:
                    guard let hall, !hall.isEmpty else { throw Failure("a manager needs --hall HALL (the hall whose cases they handle)") }
                case .auditor:
                    guard hall == nil else { throw Failure("an auditor sees every hall: leave out --hall") }
                }
                let password = try Users.readPassword(file: passwordFile, confirm: true)
                let hash = try AdminPassword.hash(password)
                let storage = try await hubOptions.open().storage
                do {
                    try await storage.addUser(AdminUserRecord(name: name, role: role, hall: hall, passwordHash: hash), now: Date())
                } catch {
                    await storage.close()
                    throw error
                }
                await storage.close()
                print("added \(role.rawValue) \(name)" + (hall.map { " for \($0)" } ?? " (all halls)") + "; sign in at /admin/login")
            } catch {
                Self.fail(error)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List admin users and their roles.")
        @OptionGroup var hubOptions: HubOptions

        func run() async throws {
            do {
                let storage = try await hubOptions.open().storage
                let users = try await storage.adminUsers()
                await storage.close()
                for user in users { print("\(user.name)\t\(user.role.rawValue)\t\(user.hall ?? "(all halls)")") }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password; their open sessions end.")
        @OptionGroup var hubOptions: HubOptions
        @Argument(help: "The user name.") var name: String
        @Option(name: .customLong("password-file"), help: "A file holding the password (first line).") var passwordFile: String?

        func run() async throws {
            do {
                let password = try Users.readPassword(file: passwordFile, confirm: true)
                let hash = try AdminPassword.hash(password)
                let storage = try await hubOptions.open().storage
                do {
                    try await storage.setPassword(name: name, passwordHash: hash, now: Date())
                } catch {
                    await storage.close()
                    throw error
                }
                await storage.close()
                print("password of \(name) changed; their sessions were ended")
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user; their sessions end, the cases' audit trail keeps their name.")
        @OptionGroup var hubOptions: HubOptions
        @Argument(help: "The user name.") var name: String

        func run() async throws {
            do {
                let storage = try await hubOptions.open().storage
                do {
                    try await storage.removeUser(name: name)
                } catch {
                    await storage.close()
                    throw error
                }
                await storage.close()
                print("removed \(name)")
            } catch {
                Self.fail(error)
            }
        }
    }

    static func validName(_ name: String) -> Bool {
        name.range(of: "^[A-Za-z0-9._-]{1,64}$", options: .regularExpression) != nil
    }

    /// The password from a file, a terminal prompt (asked twice, not echoed) or one line of stdin.
    static func readPassword(file: String?, confirm: Bool) throws -> String {
        let password: String
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else { throw Failure("cannot read the password file \(file)") }
            password = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        } else if isatty(STDIN_FILENO) == 1 {
            let first = prompt("Password: ")
            if confirm, prompt("Password again: ") != first { throw Failure("the two passwords differ: nothing was changed") }
            password = first
        } else {
            password = readLine(strippingNewline: true) ?? ""
        }
        guard password.count >= AdminPassword.minimumLength else {
            throw Failure("the password must have at least \(AdminPassword.minimumLength) characters")
        }
        return password
    }

    private static func prompt(_ text: String) -> String {
        guard let pointer = getpass(text) else { return "" }
        return String(cString: pointer)
    }
}

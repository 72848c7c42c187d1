import ArgumentParser
import Foundation
import Logging
import PingjiaHub
import ServiceLifecycle

/// `serve`'s alert and webhook options: thresholds are flags with defaults (`AlertRules`).
struct FleetServeOptions: ParsableArguments {
    @Option(name: .customLong("alert-offline-minutes"), help: "Alert when a device has sent nothing (heartbeat or batch) for this long.")
    var offlineMinutes = 10
    @Option(name: .customLong("alert-outbox-minutes"), help: "Alert when a device's oldest unacknowledged rating is older than this.")
    var outboxMinutes = 60
    @Option(name: .customLong("alert-clock-seconds"), help: "Alert when a device's clock is further than this from the hub's.")
    var clockSeconds = 120
    @Option(name: .customLong("alert-disk-mb"), help: "Alert when a device has less than this many MiB free on its state disk.")
    var diskMB = 500
    @Option(name: .customLong("alert-bad-rating-hours"), help: "A 差评 alert stays open this long, then clears.")
    var badRatingHours = 24
    @Option(name: .customLong("alert-interval-seconds"), help: "How often the hub evaluates the alert conditions.")
    var intervalSeconds = 15
    @Option(name: .customLong("webhook"), help: "URL that receives every alert event as signed JSON (repeatable).")
    var webhooks: [String] = []
    @Option(name: .customLong("webhook-secret-file"), help: "File holding the HMAC-SHA256 secret of the webhooks (required with --webhook).")
    var webhookSecretFile: String?

    func validate() throws {
        guard offlineMinutes > 0, outboxMinutes > 0, clockSeconds > 0, diskMB >= 0, badRatingHours > 0,
              (1...3600).contains(intervalSeconds) else {
            throw ValidationError("the --alert-… thresholds must be positive (--alert-interval-seconds 1-3600)")
        }
        for url in webhooks {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ValidationError("--webhook '\(url)' must be an http:// or https:// URL")
            }
        }
        if !webhooks.isEmpty && webhookSecretFile == nil {
            throw ValidationError("--webhook needs --webhook-secret-file FILE: receivers check each body's HMAC with that secret")
        }
    }

    var rules: AlertRules {
        var rules = AlertRules()
        rules.offlineAfter = TimeInterval(offlineMinutes * 60)
        rules.outboxOlderThan = TimeInterval(outboxMinutes * 60)
        rules.clockOffsetAbove = TimeInterval(clockSeconds)
        rules.diskFreeBelow = Int64(diskMB) * 1_048_576
        rules.badRatingOpenFor = TimeInterval(badRatingHours * 3600)
        return rules
    }

    /// The alert round, and the webhook sender when webhooks are configured.
    func services(hub: Hub, logger: Logger) throws -> [any Service] {
        var services: [any Service] = [AlertEvaluator(hub: hub, rules: rules, webhooks: webhooks, interval: .seconds(intervalSeconds),
                                                      logger: logger)]
        if let webhookSecretFile {
            guard let data = FileManager.default.contents(atPath: webhookSecretFile) else {
                throw Failure("cannot read the webhook secret file \(webhookSecretFile)")
            }
            let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard secret.utf8.count >= 16 else { throw Failure("\(webhookSecretFile): the webhook secret must be at least 16 characters") }
            var settings = WebhookSettings()
            settings.urls = webhooks
            settings.secret = Array(secret.utf8)
            services.append(WebhookSender(storage: hub.storage, settings: settings, logger: logger))
        }
        return services
    }
}

struct Fleet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The fleet: one row per device (last seen, version, outbox, sync lag, open alerts), and its alerts.",
        subcommands: [Show.self, Alerts.self], defaultSubcommand: Show.self)

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One row per device.")
        @OptionGroup var hubOptions: HubOptions
        @Option(help: "Only this hall's devices.") var hall: String?
        @Flag(help: "Only devices that need attention (an open alert about the device, or never heard from).") var attention = false
        @Option(help: "Sort by \(FleetSort.allCases.map(\.rawValue).joined(separator: ", ")).") var sort = "hall"
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            do {
                guard let order = FleetSort(rawValue: sort) else {
                    throw Failure("--sort '\(sort)' must be one of \(FleetSort.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let storage = try await hubOptions.open().storage
                let fleet = try await storage.fleet()
                await storage.close()
                let rows = FleetView.rows(fleet, hall: hall, attentionOnly: attention, sort: order)
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(rows), as: UTF8.self))
                } else {
                    print(FleetView.table(rows))
                }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Alerts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open alerts, newest first (--all: cleared ones too).")
        @OptionGroup var hubOptions: HubOptions
        @Flag(help: "Cleared alerts too.") var all = false
        @Option(help: "At most this many.") var limit = 200
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            do {
                let storage = try await hubOptions.open().storage
                let alerts = try await storage.alerts(includeCleared: all, limit: max(1, limit))
                await storage.close()
                if json {
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                    print(String(decoding: try encoder.encode(alerts), as: UTF8.self))
                    return
                }
                for alert in alerts {
                    print("\(alert.raisedAt)\t\(alert.clearedAt.map { "cleared \($0)" } ?? "OPEN")\t\(alert.hall ?? "-")\t\(alert.deviceId)"
                          + "\t\(alert.kind)\t\(alert.detail)")
                }
            } catch {
                Self.fail(error)
            }
        }
    }
}

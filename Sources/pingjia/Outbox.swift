import ArgumentParser
import Foundation
import PingjiaKiosk
import PingjiaStore

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect the ratings waiting to reach the hub.",
        subcommands: [Status.self, Verify.self]
    )

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Count, last seq, acknowledged seq, head hash, store health.")

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var state: StateOptions

        func run() async throws {
            do {
                let context = try state.open()
                defer { context.close() }
                let status = try context.store.outboxStatus()
                if json {
                    try printJSON(status)
                    return
                }
                print("device:        \(status.deviceId)")
                print("store:         \(status.storePath) (journal \(status.journalMode), synchronous \(status.synchronous == 2 ? "FULL" : String(status.synchronous)))")
                print("ratings:       \(status.count) stored, last seq \(status.lastSeq)")
                print("acknowledged:  through seq \(status.ackedThroughSeq) (\(status.pending) waiting for the hub)")
                print("head hash:     \(status.headHash)")
                print("store health:  \(status.health)")
                if let reason = status.syncDeadLetter {
                    print("  ALARM sync stopped (dead letter) since \(status.syncDeadLetterAt ?? "?"): \(reason)")
                    print("  deal with the cause, then run `pingjia sync retry`")
                }
                for incident in status.incidents {
                    print("  ALARM \(incident.at) \(incident.kind): \(incident.detail)"
                          + (incident.damagedFile.map { "; damaged file kept at \($0)" } ?? ""))
                }
            } catch {
                Self.fail(error)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the hash chain of every stored rating.",
            discussion: "Exit 0 when intact; exit 1 naming the first seq that fails."
        )

        @OptionGroup var state: StateOptions

        func run() async throws {
            let result: ChainVerification
            do {
                let context = try state.open()
                defer { context.close() }
                result = try context.store.verifyChain()
            } catch {
                Self.fail(error)
            }
            switch result {
            case let .intact(count, lastSeq, headHash):
                print("chain intact: \(count) ratings through seq \(lastSeq), head \(headHash)")
            case let .broken(seq, reason):
                Self.fail(Failure("chain broken at seq \(seq): \(reason)"))
            }
        }
    }
}

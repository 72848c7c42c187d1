import Foundation
import PingjiaCore
import PingjiaStore
import Testing

@Suite struct AppendTests {
    @Test func appendsAreChainedAndReadBackExactly() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            let first = try store.append(fullRating(1))
            let second = try store.append(minimalRating(2))
            let third = try store.append(fullRating(3))

            #expect(first.seq == 1)
            #expect(first.prevHash == ChainHash.genesis)
            #expect(second.seq == 2 && second.prevHash == first.hash)
            #expect(third.seq == 3 && third.prevHash == second.hash)
            #expect(first.deviceId == deviceA)

            let stored = try store.records(after: 0)
            // Equality covers every field: reasons order, the flags, the Chinese comment, the nils.
            #expect(stored == [first, second, third])
            #expect(stored.allSatisfy { $0.hashMatchesContent })
            #expect(stored[0].rating.reasons == ["slow", "attitude"])
            #expect(stored[0].rating.flags == [.test, .repeat])
            #expect(stored[0].rating.comment == "等了很久，第1次")
            #expect(stored[1].rating.staffId == nil && stored[1].rating.comment == nil
                    && stored[1].rating.matterCode == nil && stored[1].rating.caseNo == nil)
            #expect(stored[1].rating.reasons.isEmpty && stored[1].rating.flags.isEmpty)

            #expect(try store.records(after: 1, limit: 1) == [second])
            #expect(try store.records(after: 3).isEmpty)
        }
    }

    @Test func refusedRatingDoesNotUseASeq() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            try store.append(fullRating(1))
            var bad = fullRating(2)
            bad.level = 11
            #expect(throws: StoreError.self) { try store.append(bad) }
            var nowhere = minimalRating(3)
            nowhere.windowId = nil
            #expect(throws: StoreError.self) { try store.append(nowhere) }
            let next = try store.append(fullRating(4))
            #expect(next.seq == 2)
            expectGaplessChain(try store.records(after: 0), count: 2)
        }
    }

    @Test func appendAllContinuesTheChainInOneTransactionOrNotAtAll() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            try store.append(fullRating(1))
            #expect(try store.appendAll((2...50).map { $0 % 2 == 0 ? fullRating($0) : minimalRating($0) }) == 50)
            try store.append(minimalRating(51))
            expectGaplessChain(try store.records(after: 0, limit: 100), count: 51)
            // One bad rating refuses the whole lot: no partial batch, no used seqs.
            var bad = fullRating(52)
            bad.level = 11
            #expect(throws: StoreError.self) { try store.appendAll([fullRating(52), bad]) }
            #expect(try store.append(fullRating(53)).seq == 52)
            if case .intact(let count, _, _) = try store.verifyChain() { #expect(count == 52) } else { Issue.record("chain broken") }
        }
    }

    @Test func concurrentAppendsFromManyThreadsStayGapless() throws {
        try withTempDir { dir in
            let store = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { store.close() }
            let errors = Locked<[String]>([])
            let ids = Locked<[UUID]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { worker in
                for n in 0..<50 {
                    let rating = n.isMultiple(of: 2) ? fullRating(worker * 100 + n) : minimalRating(worker * 100 + n)
                    do {
                        try store.append(rating)
                        ids.mutate { $0.append(rating.id) }
                    } catch {
                        errors.mutate { $0.append("worker \(worker) #\(n): \(error)") }
                    }
                }
            }
            #expect(errors.value.isEmpty)
            let records = try store.records(after: 0, limit: 1000)
            expectGaplessChain(records, count: 400)
            #expect(Set(records.map(\.rating.id)) == Set(ids.value), "every appended rating is stored exactly once")
            #expect(try store.verifyChain() == .intact(count: 400, lastSeq: 400, headHash: records.last!.hash.hex))
        }
    }

    /// The daemon and `pingjia rate` are two processes with their own connections to one file.
    @Test func twoStoresOnOneFileKeepOneChain() throws {
        try withTempDir { dir in
            let daemon = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { daemon.close() }
            let cli = try KioskStore.open(path: storePath(dir), deviceId: deviceA)
            defer { cli.close() }

            for n in 0..<20 {
                let record = try (n.isMultiple(of: 2) ? daemon : cli).append(fullRating(n))
                #expect(record.seq == UInt64(n + 1))
            }
            // And at the same time: BEGIN IMMEDIATE with the busy timeout serialises them.
            let errors = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { which in
                let store = which == 0 ? daemon : cli
                for n in 0..<50 {
                    do { try store.append(minimalRating(n)) } catch { errors.mutate { $0.append("\(error)") } }
                }
            }
            #expect(errors.value.isEmpty)
            let fromDaemon = try daemon.records(after: 0, limit: 1000)
            expectGaplessChain(fromDaemon, count: 120)
            #expect(try cli.records(after: 0, limit: 1000) == fromDaemon)
            guard case .intact(count: 120, lastSeq: 120, _) = try cli.verifyChain() else {
                Issue.record("chain not intact: \(try cli.verifyChain())")
                return
            }
        }
    }
}

import Foundation
import PingjiaCore
import PingjiaSyncProtocol
import Testing

@Suite struct BatchTests {
    static let deviceId = "pj-0123456789ab"

    static func chain(_ count: Int) -> [RatingRecord] {
        var previous = ChainHash.genesis
        return (1...count).map { seq in
            let rating = NewRating(id: UUID(), staffId: "A1023", windowId: "3", channel: .keypad, scale: "five", level: 2,
                                   code: SatisfactionCode(rawValue: 2)!, comment: seq == 3 ? "等了很久" : nil,
                                   ratedAt: "2026-11-24T10:44:00.123+08:00", monotonicNs: UInt64(seq), flags: [.test])
            let record = RatingRecord(seq: UInt64(seq), deviceId: deviceId, rating: rating, prevHash: previous)
            previous = record.hash
            return record
        }
    }

    @Test func aSignedBatchVerifiesAndYieldsTheSameRecords() throws {
        let key = SigningKey()
        let records = Self.chain(5)
        let batch = Batch(records: records, deviceId: Self.deviceId, sentAt: "2026-11-24T10:45:00.000+08:00", key: key)
        let decoded = try JSONDecoder().decode(Batch.self, from: JSONEncoder().encode(batch))
        #expect(try decoded.verify(with: key.publicKey).get() == records)
        #expect(decoded.fromSeq == 1 && decoded.toSeq == 5)
        #expect(decoded.headHash == records[4].hash.hex)
    }

    @Test func anotherKeysSignatureIsRefused() {
        let batch = Batch(records: Self.chain(3), deviceId: Self.deviceId, sentAt: "t", key: SigningKey())
        #expect(batch.verify(with: SigningKey().publicKey) == .failure(.badSignature))
    }

    @Test func aFieldAlteredAfterSigningBreaksTheChainAtThatSeq() {
        let key = SigningKey()
        var batch = Batch(records: Self.chain(5), deviceId: Self.deviceId, sentAt: "t", key: key)
        batch.records[2].comment = "很快"
        guard case .failure(.chainBroken(seq: 3, _)) = batch.verify(with: key.publicKey) else {
            Issue.record("an altered comment was not caught at seq 3: \(batch.verify(with: key.publicKey))")
            return
        }
    }

    @Test func reHashingAnAlteredRecordStillFailsTheSignature() {
        let key = SigningKey()
        let original = Self.chain(3)
        var rating = original[1].rating
        rating.level = 5
        rating.code = SatisfactionCode(rawValue: 5)!
        let forged1 = original[0]
        let forged2 = RatingRecord(seq: 2, deviceId: Self.deviceId, rating: rating, prevHash: forged1.hash)
        let forged3 = RatingRecord(seq: 3, deviceId: Self.deviceId, rating: original[2].rating, prevHash: forged2.hash)
        var batch = Batch(records: original, deviceId: Self.deviceId, sentAt: "t", key: key)
        // A forger can recompute the hashes but not the device's signature over the new head.
        batch.records = [forged1, forged2, forged3].map(WireRecord.init)
        batch.headHash = forged3.hash.hex
        #expect(batch.verify(with: key.publicKey) == .failure(.badSignature))
    }

    @Test func aRecordRemovedFromTheMiddleIsRefused() {
        let key = SigningKey()
        let records = Self.chain(5)
        var batch = Batch(records: records, deviceId: Self.deviceId, sentAt: "t", key: key)
        batch.records.remove(at: 2)
        #expect(batch.verify(with: key.publicKey) == .failure(.malformed("fromSeq 1…toSeq 5 does not match 4 records")))
        // Even with the count "fixed" by duplicating a neighbour, the seqs give it away.
        batch.records.insert(batch.records[1], at: 2)
        guard case .failure(.chainBroken(seq: 3, _)) = batch.verify(with: key.publicKey) else {
            Issue.record("a duplicated record in place of seq 3 was not caught")
            return
        }
    }

    @Test func idempotencyKeyNamesTheSegmentNotTheAttempt() {
        let key = SigningKey()
        let records = Self.chain(4)
        let first = Batch(records: records, deviceId: Self.deviceId, sentAt: "2026-11-24T10:45:00.000+08:00", key: key)
        let retry = Batch(records: records, deviceId: Self.deviceId, sentAt: "2026-11-24T10:46:30.000+08:00", key: key)
        let shorter = Batch(records: Array(records.prefix(3)), deviceId: Self.deviceId, sentAt: "t", key: key)
        #expect(first.idempotencyKey == retry.idempotencyKey)
        #expect(first.signature != retry.signature)
        #expect(first.idempotencyKey != shorter.idempotencyKey)
        #expect(first.idempotencyKey.count == 32)
    }

    @Test func receiptsVerifyOnlyWithTheHubKeyAndUnchanged() {
        let hub = SigningKey()
        let head = Self.chain(2)[1].hash
        let receipt = Receipt(deviceId: Self.deviceId, throughSeq: 2, headHash: head, receivedAt: "2026-11-24T02:45:00.000Z", key: hub)
        #expect(receipt.isSigned(by: hub.publicKey))
        #expect(!receipt.isSigned(by: SigningKey().publicKey))
        var inflated = receipt
        inflated.throughSeq = 3
        #expect(!inflated.isSigned(by: hub.publicKey))
    }

    /// The signature input is a contract with other implementations (docs/sync-protocol.md).
    @Test func signatureInputBytesAreAsDocumented() {
        let bytes = SignatureInput.receipt(deviceId: "pj-1", throughSeq: 258, headHash: .genesis, receivedAt: "T")
        let expected: [UInt8] = Array("PJA1".utf8) + [0, 0, 0, 4] + Array("pj-1".utf8) + [0, 0, 0, 0, 0, 0, 1, 2]
            + [UInt8](repeating: 0, count: 32) + [0, 0, 0, 1] + Array("T".utf8)
        #expect(bytes == expected)
        let batch = SignatureInput.batch(deviceId: "pj-1", fromSeq: 1, toSeq: 2, prevHash: .genesis, headHash: .genesis, sentAt: "T")
        #expect(batch.count == 4 + 8 + 8 + 8 + 32 + 32 + 5)
        #expect(Array(batch.prefix(4)) == Array("PJB1".utf8))
    }

    @Test func keyFileIsPrivateAndReloads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sync/device.key"
        let made = try SigningKey.load(path: path, create: true)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try SigningKey.load(path: path, create: false).publicKey == made.publicKey)
        #expect(throws: KeyFileError.self) { try SigningKey.load(path: dir + "/missing.key", create: false) }
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660])
    func aKeyOthersCanReadIsRefusedWithTheChmodToRun(mode: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/device.key"
        _ = try SigningKey.load(path: path, create: true)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        let error = #expect(throws: KeyFileError.self) { try SigningKey.load(path: path, create: false) }
        #expect(error?.description.contains("chmod 600 \(path)") == true)
        #expect(error?.description.contains(String(mode, radix: 8)) == true)
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        #expect(throws: Never.self) { try SigningKey.load(path: path, create: false) }
    }

    /// FuzzBatch's seeds must be batches the hub accepts (signed with the fuzzer's key), or the
    /// fuzzer starts from nothing but refusals.
    @Test func theFuzzSeedsAreValidBatches() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/corpus/batch")
        let key = try SigningKey(rawRepresentation: Data(repeating: 7, count: 32))
        if ProcessInfo.processInfo.environment["PINGJIA_WRITE_FUZZ_SEEDS"] == "1" { try Self.writeFuzzSeeds(to: directory, key: key) }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }
        #expect(names.count >= 3)
        for name in names {
            let batch = try JSONDecoder().decode(Batch.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
            #expect(try batch.verify(with: key.publicKey).get().count == batch.records.count, "\(name)")
        }
    }

    /// Once a FuzzBatch crash: a headHash spelled with an uppercase digit verifies (hex is read in
    /// either case) and names the same head as the records, whose hashes are lowercase.
    @Test func aHeadHashInUppercaseNamesTheSameHead() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/regressions/batch-uppercase-head-hash.json")
        var batch = try JSONDecoder().decode(Batch.self, from: Data(contentsOf: file))
        #expect(batch.headHash != batch.headHash.lowercased())
        let key = try SigningKey(rawRepresentation: Data(repeating: 7, count: 32))
        batch.signature = key.sign(try #require(batch.signatureInput))
        let records = try batch.verify(with: key.publicKey).get()
        #expect(records.count == batch.records.count)
        #expect(records.last?.hash == ChainHash(hex: batch.headHash) && records.last?.hash.hex == batch.headHash.lowercased())
    }

    static func writeFuzzSeeds(to directory: URL, key: SigningKey) throws {
        func rating(_ index: Int) -> NewRating {
            NewRating(staffId: "A1023", windowId: "3", matterCode: index == 1 ? "11000000000000000X4440111700001" : nil,
                      caseNo: index == 2 ? "BJ-2026-7" : nil, channel: [RatingChannel.keypad, .touch, .qr][index % 3],
                      scale: "five", level: index % 5 + 1, code: SatisfactionCode(rawValue: index % 5 + 1)!,
                      reasons: index % 2 == 0 ? ["slow", "attitude"] : [], comment: index == 2 ? "等了很久" : nil,
                      ratedAt: "2026-11-24T10:44:00.123+08:00", monotonicNs: UInt64(index) * 1_000, flags: index == 3 ? [.test] : [])
        }
        var previous = ChainHash.genesis
        var records: [RatingRecord] = []
        for seq in 1...4 {
            let record = RatingRecord(seq: UInt64(seq), deviceId: deviceId, rating: rating(seq), prevHash: previous)
            records.append(record)
            previous = record.hash
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (name, slice) in [("one", Array(records.prefix(1))), ("four", records), ("tail", Array(records.suffix(2)))] {
            let batch = Batch(records: slice, deviceId: deviceId, sentAt: "2026-11-24T10:45:00.000+08:00", key: key)
            try encoder.encode(batch).write(to: directory.appendingPathComponent("\(name).json"))
        }
    }
}

// libFuzzer entry point: any bytes as the body of `POST /v1/devices/{id}/batches` go through what
// the hub does with them (JSON decoding, signature check, chain walk) and must give records or a
// problem, never a crash. A forged signature stops at the signature check, so each decoded batch
// is also re-signed with the fuzzer's own key and checked again: that drives arbitrary records
// through the chain walk and the hashing behind it.
//
// In a normal build `main` runs instead: `FuzzBatch --write-seeds DIR` writes the seed corpus
// (valid batches signed with that key).
import Foundation
import PingjiaCore
import PingjiaSyncProtocol

enum FuzzKey {
    static let key = try! SigningKey(rawRepresentation: Data(repeating: 7, count: 32))
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(UnsafeBufferPointer(start: data, count: size))
    guard var batch = try? JSONDecoder().decode(Batch.self, from: body) else { return 0 }
    let key = FuzzKey.key
    _ = batch.verify(with: key.publicKey)
    _ = batch.idempotencyKey
    if let input = batch.signatureInput {
        batch.signature = key.sign(input)
        if case .success(let records) = batch.verify(with: key.publicKey) {
            // What the hub stores must encode back to the same chain.
            precondition(records.count == batch.records.count && records.last?.hash.hex == batch.headHash)
        }
    }
    return 0
}

func writeSeeds(to directory: String) throws {
    func rating(_ index: Int, comment: String?) -> NewRating {
        NewRating(staffId: "A1023", windowId: "3", matterCode: index == 1 ? "11000000000000000X4440111700001" : nil,
                  caseNo: index == 2 ? "BJ-2026-7" : nil, channel: [RatingChannel.keypad, .touch, .qr][index % 3],
                  scale: "five", level: index % 5 + 1, code: SatisfactionCode(rawValue: index % 5 + 1)!,
                  reasons: index % 2 == 0 ? ["slow", "attitude"] : [], comment: comment,
                  ratedAt: "2026-11-24T10:44:00.123+08:00", monotonicNs: UInt64(index) * 1_000, flags: index == 3 ? [.test] : [])
    }
    var previous = ChainHash.genesis
    var records: [RatingRecord] = []
    for seq in 1...4 {
        let record = RatingRecord(seq: UInt64(seq), deviceId: "pj-0123456789ab", rating: rating(seq, comment: seq == 2 ? "等了很久" : nil),
                                  prevHash: previous)
        records.append(record)
        previous = record.hash
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    for (name, slice) in [("one", Array(records.prefix(1))), ("four", records), ("tail", Array(records.suffix(2)))] {
        let batch = Batch(records: slice, deviceId: "pj-0123456789ab", sentAt: "2026-11-24T10:45:00.000+08:00", key: FuzzKey.key)
        try encoder.encode(batch).write(to: URL(fileURLWithPath: directory).appendingPathComponent("\(name).json"))
    }
}

let arguments = CommandLine.arguments
if arguments.count == 3, arguments[1] == "--write-seeds" {
    try writeSeeds(to: arguments[2])
}

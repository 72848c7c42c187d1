// libFuzzer entry point: any bytes as the body of `POST /v1/devices/{id}/batches` go through what
// the hub does with them (JSON decoding, signature check, chain walk) and must give records or a
// problem, never a crash. A forged signature stops at the signature check, so each decoded batch
// is also re-signed with the fuzzer's own key and checked again: that drives arbitrary records
// through the chain walk and the hashing behind it.
//
// The seeds in Tests/Fuzz/corpus/batch are valid batches signed with that key; BatchTests checks
// them and rewrites them when run with PINGJIA_WRITE_FUZZ_SEEDS=1.
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
            // What the hub stores must encode back to the same chain. Compared as hashes: hex in
            // either case is accepted (regressions/batch-uppercase-head-hash.json).
            precondition(records.count == batch.records.count && records.last?.hash == ChainHash(hex: batch.headHash))
        }
    }
    return 0
}

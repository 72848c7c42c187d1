import Foundation
import Testing
@testable import PingjiaCore

/// The `PJR1` golden vectors of docs/record-format.md.
///
/// Every expected value here was computed from the document alone by
/// `Tests/Fixtures/golden/make_vectors.py` (Python `struct` + `hashlib`), never by printing what the
/// Swift code produces: a verifier in another language must reproduce them byte for byte, so a
/// change to `CanonicalEncoding` that "still looks right" must fail here.
@Suite("Canonical encoding (PJR1)")
struct CanonicalEncodingTests {
    static let deviceId = "pj-0123456789ab"

    /// The worked example of docs/record-format.md.
    static let first = NewRating(
        id: UUID(uuidString: "0B6C8A52-93E4-4D8E-9A4F-5B2F0C7D1E3A")!,
        staffId: "A1023", windowId: "3", matterCode: "11000000000000000X4440111700001", caseNo: nil,
        channel: .keypad, scale: "five", level: 4, code: SatisfactionCode(rawValue: 4)!,
        reasons: ["slow", "attitude"], comment: "等了很久",
        ratedAt: "2026-11-24T10:44:00.123+08:00", monotonicNs: 123_456_789_012, flags: [.test])

    static let firstHex =
        "504a523100000000000000010000002430623663386135322d393365342d346438652d396134662d35623266"
        + "30633764316533610000000f706a2d3031323334353637383961620100000005413130323301000000013301"
        + "0000001f3131303030303030303030303030303030583434343031313137303030303100000000066b657970"
        + "6164000000046669766504040000000200000004736c6f77000000086174746974756465010000000ce7ad89"
        + "e4ba86e5be88e4b9850000001d323032362d31312d32345431303a34343a30302e3132332b30383a30300000"
        + "001cbe991a140000000100000004746573740000000000000000000000000000000000000000000000000000"
        + "000000000000"
    static let firstHash = "94e735655a8f2676a3dff8a6d1656bb7bec94b416e908785e7082948d7bae223"

    /// Chained to `first`; covers what it does not: caseNo present, staffId/comment absent, no
    /// reasons, an empty matterCode (present, so `01 00000000`, not `00`), flags given unsorted.
    static let second = NewRating(
        id: UUID(uuidString: "5d7f3c2e-1a4b-4c6d-8e9f-0a1b2c3d4e5f")!,
        staffId: nil, windowId: "12", matterCode: "", caseNo: "BJ-2026-1124-0017",
        channel: .touch, scale: "three", level: 1, code: SatisfactionCode(rawValue: 2)!,
        reasons: [], comment: nil,
        ratedAt: "2026-11-24T10:45:30.007+08:00", monotonicNs: 123_546_789_012,
        flags: [RatingFlag.unarmed, RatingFlag.repeat])

    static let secondHex =
        "504a523100000000000000020000002435643766336332652d316134622d346336642d386539662d30613162"
        + "32633364346535660000000f706a2d3031323334353637383961620001000000023132010000000001000000"
        + "11424a2d323032362d313132342d3030313700000005746f7563680000000574687265650102000000000000"
        + "00001d323032362d31312d32345431303a34353a33302e3030372b30383a30300000001cc3f6649400000002"
        + "0000000672657065617400000007756e61726d656494e735655a8f2676a3dff8a6d1656bb7bec94b416e9087"
        + "85e7082948d7bae223"
    static let secondHash = "69fbec2b49a869eef881510f08f065bde959dc311e2daafd38bc60c6ba08fcb4"

    static var firstRecord: RatingRecord {
        RatingRecord(seq: 1, deviceId: deviceId, rating: first, prevHash: .genesis)
    }

    static var secondRecord: RatingRecord {
        RatingRecord(seq: 2, deviceId: deviceId, rating: second, prevHash: firstRecord.hash)
    }

    @Test func workedExampleEncodesToTheDocumentedBytes() {
        let bytes = Self.firstRecord.canonicalBytes
        #expect(bytes.count == 270)
        #expect(hex(bytes) == Self.firstHex)
        #expect(Self.firstHex.count == 540, "the pinned literal itself must be 270 bytes")
    }

    @Test func workedExampleHashesToTheDocumentedHash() {
        let record = Self.firstRecord
        #expect(record.hash.hex == Self.firstHash)
        #expect(record.prevHash == .genesis)
        #expect(record.hashMatchesContent)
    }

    @Test func encodeAgreesWithTheRecordsBytes() {
        let direct = CanonicalEncoding.encode(seq: 1, deviceId: Self.deviceId, rating: Self.first, prevHash: .genesis)
        #expect(hex(direct) == Self.firstHex)
        #expect(Array(direct.prefix(4)) == [0x50, 0x4A, 0x52, 0x31])
    }

    @Test func secondRecordChainsToTheFirst() {
        let record = Self.secondRecord
        #expect(record.prevHash.hex == Self.firstHash)
        #expect(record.canonicalBytes.count == 229)
        #expect(hex(record.canonicalBytes) == Self.secondHex)
        #expect(record.hash.hex == Self.secondHash)
    }

    @Test func flagsAreEncodedSortedWhateverOrderTheyWereGiven() {
        // "repeat" < "unarmed": the sorted list comes last before prevHash (32 bytes).
        let bytes = Self.secondRecord.canonicalBytes
        let flagList = Array(bytes.dropLast(32).suffix(4 + 4 + 6 + 4 + 7))
        #expect(hex(flagList) == "00000002" + "00000006" + hex(Array("repeat".utf8)) + "00000007" + hex(Array("unarmed".utf8)))
    }

    @Test func emptyMatterCodeIsPresentNotAbsent() {
        var absent = Self.second
        absent.matterCode = nil
        let withEmpty = Self.secondRecord
        let withoutCode = RatingRecord(seq: 2, deviceId: Self.deviceId, rating: absent, prevHash: withEmpty.prevHash)
        #expect(withoutCode.canonicalBytes.count == withEmpty.canonicalBytes.count - 4)
        #expect(withoutCode.hash != withEmpty.hash)
    }

    @Test func textIsHashedAsStoredWithoutUnicodeNormalisation() {
        // Swift's == treats NFC and NFD as equal; the hash must not, or an auditor recomputing
        // from the stored bytes in another language would disagree.
        var composed = Self.first
        composed.comment = "caf\u{E9}"
        var decomposed = Self.first
        decomposed.comment = "cafe\u{301}"
        let a = RatingRecord(seq: 1, deviceId: Self.deviceId, rating: composed, prevHash: .genesis)
        let b = RatingRecord(seq: 1, deviceId: Self.deviceId, rating: decomposed, prevHash: .genesis)
        #expect(a.hash != b.hash)
        #expect(b.canonicalBytes.count == a.canonicalBytes.count + 1)
    }

    /// One change to a stored record; each must break `hashMatchesContent`.
    enum Tamper: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case seq, id, deviceId, staffIdChanged, staffIdRemoved, windowId, matterCodeEmptyToAbsent, caseNo
        case channel, scale, level, code, reasonAdded, reasonsReordered, commentAdded, ratedAt, monotonicNs
        case flagAdded, flagRemoved, prevHash

        var testDescription: String { rawValue }

        /// Tampers with the second record, whose optional fields differ from the first's.
        func apply(to record: RatingRecord) -> RatingRecord {
            var seq = record.seq
            var deviceId = record.deviceId
            var rating = record.rating
            var prevHash = record.prevHash
            switch self {
            case .seq: seq += 1
            case .id: rating.id = UUID(uuidString: "5d7f3c2e-1a4b-4c6d-8e9f-0a1b2c3d4e50")!
            case .deviceId: deviceId = "pj-0123456789ac"
            case .staffIdChanged: rating.staffId = "A1024"
            case .staffIdRemoved: rating.staffId = nil; rating.windowId = "12"
            case .windowId: rating.windowId = "13"
            case .matterCodeEmptyToAbsent: rating.matterCode = nil
            case .caseNo: rating.caseNo = "BJ-2026-1124-0018"
            case .channel: rating.channel = .qr
            case .scale: rating.scale = "five"
            case .level: rating.level = 2
            case .code: rating.code = SatisfactionCode(rawValue: 3)!
            case .reasonAdded: rating.reasons = ["slow"]
            case .reasonsReordered: rating.reasons = ["attitude", "slow"]
            case .commentAdded: rating.comment = ""
            case .ratedAt: rating.ratedAt = "2026-11-24T10:45:30.008+08:00"
            case .monotonicNs: rating.monotonicNs += 1
            case .flagAdded: rating.flags.insert(.test)
            case .flagRemoved: rating.flags.remove(.repeat)
            case .prevHash: prevHash = .genesis
            }
            return RatingRecord(seq: seq, deviceId: deviceId, rating: rating, prevHash: prevHash, storedHash: record.hash)
        }
    }

    @Test func untouchedStoredRecordVerifies() {
        for record in [Self.firstRecord, Self.secondRecord] {
            let stored = RatingRecord(seq: record.seq, deviceId: record.deviceId, rating: record.rating,
                                      prevHash: record.prevHash, storedHash: record.hash)
            #expect(stored.hashMatchesContent)
        }
    }

    @Test(arguments: Tamper.allCases)
    func changingOneStoredFieldBreaksTheHash(_ tamper: Tamper) {
        var original = Self.secondRecord
        if tamper == .reasonsReordered || tamper == .staffIdRemoved {
            // These need a field the second record leaves empty.
            var rating = original.rating
            rating.reasons = ["slow", "attitude"]
            rating.staffId = "A1023"
            original = RatingRecord(seq: 2, deviceId: Self.deviceId, rating: rating, prevHash: original.prevHash)
        }
        #expect(original.hashMatchesContent)
        let tampered = tamper.apply(to: original)
        #expect(tampered != original, "the tamper case must change something")
        #expect(!tampered.hashMatchesContent)
    }

    @Test func storedHashThatIsNotTheContentsHashFailsVerification() {
        let record = Self.firstRecord
        var bytes = record.hash.bytes
        bytes[31] ^= 0x01
        let stored = RatingRecord(seq: 1, deviceId: Self.deviceId, rating: Self.first,
                                  prevHash: .genesis, storedHash: ChainHash(bytes: bytes)!)
        #expect(!stored.hashMatchesContent)
    }
}

/// The `PJR2` golden vectors: a 未评价 record and a reasons follow-up, chained after the `PJR1`
/// pair above. Computed by `Tests/Fixtures/golden/make_vectors.py` from the document alone.
@Suite("Canonical encoding (PJR2)")
struct CanonicalEncodingV2Tests {
    static let deviceId = CanonicalEncodingTests.deviceId

    static let third = NewRating(
        id: UUID(uuidString: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")!, kind: .unrated,
        staffId: "A1023", windowId: "3", matterCode: "11000000000000000X4440111700001", caseNo: "BJ-2026-1124-0018",
        channel: .keypad, scale: "five", level: 0, code: nil, reasons: [], comment: nil,
        ratedAt: "2026-11-24T10:46:10.500+08:00", monotonicNs: 123_586_789_012, flags: [])

    static let thirdHex =
        "504a523200000000000000030000002439613862376336642d356534662d346133622d386332642d31653066"
        + "39613862376336640000000f706a2d3031323334353637383961620100000005413130323301000000013301"
        + "0000001f313130303030303030303030303030303058343434303131313730303030310100000011424a2d32"
        + "3032362d313132342d30303138000000066b65797061640000000466697665000000000000000000001d3230"
        + "32362d31312d32345431303a34363a31302e3530302b30383a30300000001cc658be94000000000000000775"
        + "6e72617465640069fbec2b49a869eef881510f08f065bde959dc311e2daafd38bc60c6ba08fcb4"
    static let thirdHash = "19a655203927ef4122351a221e892ad0ad6081aab9d65f45d27bcbd5dab4bc65"

    static let fourth = NewRating(
        id: UUID(uuidString: "c3d2e1f0-a9b8-4c7d-9e6f-5a4b3c2d1e0f")!, kind: .reasons,
        refersTo: UUID(uuidString: "0b6c8a52-93e4-4d8e-9a4f-5b2f0c7d1e3a")!,
        staffId: "A1023", windowId: "3", matterCode: "11000000000000000X4440111700001", caseNo: nil,
        channel: .touch, scale: "five", level: 4, code: SatisfactionCode(rawValue: 4)!,
        reasons: ["slow", "other"], comment: "窗口少",
        ratedAt: "2026-11-24T10:44:20.250+08:00", monotonicNs: 123_476_789_012, flags: [])

    static let fourthHex =
        "504a523200000000000000040000002463336432653166302d613962382d346337642d396536662d35613462"
        + "33633264316530660000000f706a2d3031323334353637383961620100000005413130323301000000013301"
        + "0000001f313130303030303030303030303030303058343434303131313730303030310000000005746f7563"
        + "68000000046669766504040000000200000004736c6f77000000056f746865720100000009e7aa97e58fa3e5"
        + "b0910000001d323032362d31312d32345431303a34343a32302e3235302b30383a30300000001cbfca471400"
        + "00000000000007726561736f6e73010000002430623663386135322d393365342d346438652d396134662d35"
        + "623266306337643165336119a655203927ef4122351a221e892ad0ad6081aab9d65f45d27bcbd5dab4bc65"
    static let fourthHash = "abcae3090f63f2d9b260803997bfd0d5c9ce2fc643b9cf6167e9ef0083c7a2ac"

    static var thirdRecord: RatingRecord {
        RatingRecord(seq: 3, deviceId: deviceId, rating: third, prevHash: CanonicalEncodingTests.secondRecord.hash)
    }

    static var fourthRecord: RatingRecord {
        RatingRecord(seq: 4, deviceId: deviceId, rating: fourth, prevHash: thirdRecord.hash)
    }

    @Test func unratedRecordEncodesToTheGoldenBytes() {
        let record = Self.thirdRecord
        #expect(record.canonicalBytes.count == 259)
        #expect(hex(record.canonicalBytes) == Self.thirdHex)
        #expect(record.hash.hex == Self.thirdHash)
        #expect(Array(record.canonicalBytes.prefix(4)) == Array("PJR2".utf8))
    }

    @Test func reasonsRecordEncodesToTheGoldenBytes() {
        let record = Self.fourthRecord
        #expect(record.prevHash.hex == Self.thirdHash)
        #expect(record.canonicalBytes.count == 307)
        #expect(hex(record.canonicalBytes) == Self.fourthHex)
        #expect(record.hash.hex == Self.fourthHash)
    }

    @Test func ratingsKeepThePJR1Bytes() {
        // A rating built with the kind given explicitly is still PJR1, byte for byte.
        var rating = CanonicalEncodingTests.first
        rating.kind = .rating
        let record = RatingRecord(seq: 1, deviceId: Self.deviceId, rating: rating, prevHash: .genesis)
        #expect(hex(record.canonicalBytes) == CanonicalEncodingTests.firstHex)
    }

    @Test func kindAndRefersToAreCoveredByTheHash() {
        let original = Self.fourthRecord
        var otherKind = original.rating
        otherKind.kind = .unrated
        var otherTarget = original.rating
        otherTarget.refersTo = UUID(uuidString: "5d7f3c2e-1a4b-4c6d-8e9f-0a1b2c3d4e5f")!
        var noTarget = original.rating
        noTarget.refersTo = nil
        for rating in [otherKind, otherTarget, noTarget] {
            let tampered = RatingRecord(seq: 4, deviceId: Self.deviceId, rating: rating, prevHash: original.prevHash,
                                        storedHash: original.hash)
            #expect(!tampered.hashMatchesContent)
        }
    }
}

@Suite("ChainHash")
struct ChainHashTests {
    @Test func genesisIs32ZeroBytes() {
        #expect(ChainHash.genesis.bytes == [UInt8](repeating: 0, count: 32))
        #expect(ChainHash.genesis.hex == String(repeating: "0", count: 64))
    }

    @Test func hexRoundTrips() throws {
        let bytes = (0..<32).map { UInt8(($0 * 37 + 11) % 256) }
        let hash = try #require(ChainHash(bytes: bytes))
        #expect(hash.hex.count == 64)
        #expect(hash.hex == hash.hex.lowercased())
        #expect(ChainHash(hex: hash.hex) == hash)
        #expect(hash.description == hash.hex)
    }

    @Test func sha256OfKnownInput() {
        // SHA-256("abc") from FIPS 180-2, to pin that `of` is plain SHA-256.
        #expect(ChainHash.of(Array("abc".utf8)).hex
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func uppercaseHexIsAccepted() {
        let upper = CanonicalEncodingTests.firstHash.uppercased()
        #expect(ChainHash(hex: upper)?.hex == CanonicalEncodingTests.firstHash)
    }

    @Test(arguments: [
        "",
        String(repeating: "0", count: 62),
        String(repeating: "0", count: 63),
        String(repeating: "0", count: 65),
        String(repeating: "0", count: 66),
        String(repeating: "0", count: 62) + "zz",
        String(repeating: "0", count: 62) + "0g",
        " " + String(repeating: "0", count: 63),
        // Swift's integer parser accepts a sign; a hash must not.
        "+f" + String(repeating: "0", count: 62),
        "-0" + String(repeating: "0", count: 62),
        // 64 UTF-8 bytes but 63 characters: must be rejected, not crash.
        String(repeating: "0", count: 62) + "é",
        String(repeating: "00", count: 16) + String(repeating: "é", count: 16),
    ])
    func badHexIsRejected(_ text: String) {
        #expect(ChainHash(hex: text) == nil)
    }

    @Test(arguments: [0, 1, 31, 33, 64])
    func wrongByteCountIsRejected(_ count: Int) {
        #expect(ChainHash(bytes: [UInt8](repeating: 7, count: count)) == nil)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

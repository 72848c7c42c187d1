import Foundation
import GRDB
import PingjiaCore

/// The outbox: every rating, in order, chained by hash, until the hub's receipt covers it.
extension KioskStore {
    /// Commits `rating` as the next record of this device's chain and returns it.
    ///
    /// One `BEGIN IMMEDIATE … COMMIT`: the write lock is taken before reading the chain head, so
    /// two processes appending at once (daemon and `pingjia rate`) still get consecutive seqs.
    /// When this returns, the record is on disk (WAL, synchronous=FULL).
    @discardableResult
    public func append(_ rating: NewRating) throws(StoreError) -> RatingRecord {
        try Self.validate(rating)
        let deviceId = deviceId
        return try write("appending a rating") { db in
            let head = try Self.head(db)
            let record = RatingRecord(seq: head.seq + 1, deviceId: deviceId, rating: rating, prevHash: head.hash)
            try Self.insert(db, record)
            return record
        }
    }

    /// Commits `ratings` as the next records of the chain in ONE transaction: one fsync for all.
    /// Only for filling a store fast (benchmarks, load tests); a rating a citizen gave goes
    /// through `append`, so it is on disk before the keypad says thank you.
    @discardableResult
    public func appendAll(_ ratings: [NewRating]) throws(StoreError) -> UInt64 {
        for rating in ratings { try Self.validate(rating) }
        let deviceId = deviceId
        return try write("appending \(ratings.count) ratings") { db in
            var head = try Self.head(db)
            for rating in ratings {
                let record = RatingRecord(seq: head.seq + 1, deviceId: deviceId, rating: rating, prevHash: head.hash)
                try Self.insert(db, record)
                head = (record.seq, record.hash)
            }
            return head.seq
        }
    }

    /// Commits the reasons follow-up of the bad rating `ratingId`, in one transaction with the
    /// checks that it may: the rating is on this device, bad, has no follow-up yet (the unique
    /// index on `refers_to` enforces that too) and was given at most `windowNs` ago.
    ///
    /// The window is measured on the monotonic clock (the wall clock may jump); a rating from
    /// before a reboot has a larger monotonic time than now, and is past its window.
    @discardableResult
    public func appendReasons(to ratingId: UUID, reasons: [String], comment: String?, channel: RatingChannel,
                              at time: DeviceTime, windowNs: UInt64) throws(StoreError) -> RatingRecord {
        let deviceId = deviceId
        let idText = ratingId.uuidString.lowercased()
        return try write("appending reasons") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM rating WHERE id = ?", arguments: [idText]) else {
                throw StoreError.followUpRefused(.unknownRating(idText))
            }
            let target: RatingRecord
            switch Self.decode(row) {
            case .success(let record): target = record
            case .failure(let problem): throw StoreError.database(operation: "reading seq \(problem.seq)", reason: problem.reason)
            }
            guard target.rating.kind == .rating, target.rating.code?.isBad == true else {
                throw StoreError.followUpRefused(.notABadRating(idText))
            }
            if let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM rating WHERE refers_to = ?", arguments: [idText]) {
                throw StoreError.followUpRefused(.alreadyGiven(idText, seq: UInt64(seq)))
            }
            let then = target.rating.monotonicNs
            guard time.monotonicNs >= then, time.monotonicNs - then <= windowNs else {
                throw StoreError.followUpRefused(.tooLate(idText, windowSeconds: Int(windowNs / 1_000_000_000)))
            }
            let followUp = NewRating.reasons(for: target.rating, reasons: reasons, comment: comment, channel: channel, at: time)
            try Self.validate(followUp)
            let head = try Self.head(db)
            let record = RatingRecord(seq: head.seq + 1, deviceId: deviceId, rating: followUp, prevHash: head.hash)
            try Self.insert(db, record)
            return record
        }
    }

    /// The follow-up record of `ratingId`, if one was committed.
    public func followUp(of ratingId: UUID) throws(StoreError) -> RatingRecord? {
        try read("reading a follow-up") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM rating WHERE refers_to = ?",
                                             arguments: [ratingId.uuidString.lowercased()]) else { return nil }
            switch Self.decode(row) {
            case .success(let record): return record
            case .failure(let problem): throw StoreError.database(operation: "reading seq \(problem.seq)", reason: problem.reason)
            }
        }
    }

    static func insert(_ db: Database, _ record: RatingRecord) throws {
        let rating = record.rating
        // Cached: the same statement serves every append of the process.
        try db.cachedStatement(sql: """
            INSERT INTO rating (seq, id, device_id, staff_id, window_id, matter_code, case_no, channel,
                scale, level, code, reasons, comment, rated_at, monotonic_ns, flags, prev_hash, hash, kind, refers_to)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                Int64(record.seq), rating.id.uuidString.lowercased(), record.deviceId, rating.staffId, rating.windowId,
                rating.matterCode, rating.caseNo, rating.channel.rawValue, rating.scale, rating.level,
                rating.code?.rawValue ?? 0, Self.json(rating.reasons), rating.comment, rating.ratedAt,
                Int64(bitPattern: rating.monotonicNs), Self.json(rating.flags.map(\.rawValue).sorted()),
                Data(record.prevHash.bytes), Data(record.hash.bytes), rating.kind.rawValue,
                rating.refersTo?.uuidString.lowercased(),
            ])
    }

    /// Records after `seq`, oldest first, at most `limit`.
    public func records(after seq: UInt64, limit: Int = 500) throws(StoreError) -> [RatingRecord] {
        try read("reading ratings") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rating WHERE seq > ? ORDER BY seq LIMIT ?",
                             arguments: [Int64(clamping: seq), limit]).map { row in
                switch Self.decode(row) {
                case .success(let record): return record
                case .failure(let problem): throw StoreError.database(operation: "reading seq \(problem.seq)", reason: problem.reason)
                }
            }
        }
    }

    public func outboxStatus() throws(StoreError) -> OutboxStatus {
        let incidents = try incidents()
        let journalMode = try writerPragma("journal_mode")
        let synchronous = try writerSynchronousMode()
        return try read("reading the outbox status") { db in
            let head = try Self.head(db)
            let state = try Row.fetchOne(db, sql: "SELECT acked_through_seq, pruned_through_seq FROM outbox_state")
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM rating") ?? 0
            let acked = UInt64(state?["acked_through_seq"] as Int64? ?? 0)
            let sync = try Row.fetchOne(db, sql: "SELECT dead_letter_reason, dead_letter_at FROM sync_state")
            return OutboxStatus(
                deviceId: deviceId, storePath: path, count: count, lastSeq: head.seq, ackedThroughSeq: acked,
                pending: head.seq > acked ? head.seq - acked : 0, headHash: head.hash.hex,
                journalMode: journalMode, synchronous: synchronous,
                health: incidents.isEmpty ? "ok" : "recovered", incidents: incidents,
                syncDeadLetter: sync?["dead_letter_reason"], syncDeadLetterAt: sync?["dead_letter_at"])
        }
    }

    /// Walks the whole chain: consecutive seqs, each `prevHash` equal to the previous `hash`, each
    /// `hash` equal to the hash of the stored fields. Stops at the first record that fails.
    public func verifyChain() throws(StoreError) -> ChainVerification {
        let deviceId = deviceId
        return try read("verifying the chain") { db in
            guard let state = try Row.fetchOne(db, sql: "SELECT pruned_through_seq, pruned_head_hash FROM outbox_state"),
                  let base = ChainHash(bytes: [UInt8](state["pruned_head_hash"] as Data)) else {
                return .broken(seq: 0, reason: "the outbox state row is missing or damaged")
            }
            var expectedSeq = UInt64(state["pruned_through_seq"] as Int64) + 1
            var previous = base
            let rows = try Row.fetchCursor(db, sql: "SELECT * FROM rating ORDER BY seq")
            var count = 0
            while let row = try rows.next() {
                let record: RatingRecord
                switch Self.decode(row) {
                case .success(let decoded): record = decoded
                case .failure(let problem): return .broken(seq: problem.seq, reason: problem.reason)
                }
                if record.seq != expectedSeq {
                    return .broken(seq: expectedSeq, reason: record.seq > expectedSeq
                        ? "missing: the chain jumps from seq \(expectedSeq - 1) to \(record.seq)"
                        : "seq \(record.seq) appears out of order")
                }
                if record.deviceId != deviceId {
                    return .broken(seq: record.seq, reason: "device id is '\(record.deviceId)', expected '\(deviceId)'")
                }
                if record.prevHash != previous {
                    return .broken(seq: record.seq, reason: "prev_hash does not match the hash of seq \(record.seq - 1)")
                }
                if !record.hashMatchesContent {
                    return .broken(seq: record.seq, reason: "the stored fields do not match the record's hash (altered after commit)")
                }
                previous = record.hash
                expectedSeq += 1
                count += 1
            }
            return .intact(count: count, lastSeq: expectedSeq - 1, headHash: previous.hex)
        }
    }

    // MARK: - Row mapping

    static func head(_ db: Database) throws -> (seq: UInt64, hash: ChainHash) {
        if let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM rating ORDER BY seq DESC LIMIT 1"),
           let hash = ChainHash(bytes: [UInt8](row["hash"] as Data)) {
            return (UInt64(row["seq"] as Int64), hash)
        }
        let state = try Row.fetchOne(db, sql: "SELECT pruned_through_seq, pruned_head_hash FROM outbox_state")
        let hash = state.flatMap { ChainHash(bytes: [UInt8]($0["pruned_head_hash"] as Data)) } ?? .genesis
        return (UInt64(state?["pruned_through_seq"] as Int64? ?? 0), hash)
    }

    struct RowProblem: Error {
        let seq: UInt64
        let reason: String
    }

    /// Rebuilds a record exactly as stored; any field that cannot be read names the seq.
    static func decode(_ row: Row) -> Result<RatingRecord, RowProblem> {
        let seqValue: Int64? = row["seq"]
        let seq = UInt64(clamping: seqValue ?? 0)
        func fail(_ reason: String) -> Result<RatingRecord, RowProblem> { .failure(RowProblem(seq: seq, reason: reason)) }
        guard let idText: String = row["id"], let id = UUID(uuidString: idText) else { return fail("id is not a UUID") }
        guard let deviceId: String = row["device_id"] else { return fail("device id is missing") }
        guard let channelText: String = row["channel"], let channel = RatingChannel(rawValue: channelText) else {
            return fail("unknown channel")
        }
        let kindText = (row["kind"] as String?) ?? RecordKind.rating.rawValue
        guard let kind = RecordKind(rawValue: kindText) else { return fail("unknown record kind '\(kindText)'") }
        var refersTo: UUID?
        if let text: String = row["refers_to"] {
            guard let target = UUID(uuidString: text), text == target.uuidString.lowercased() else {
                return fail("refers_to is not a lowercase UUID")
            }
            refersTo = target
        }
        // 未评价 has no level and no code (both 0); every other kind has both.
        guard let scale: String = row["scale"], let level: Int64 = row["level"],
              kind == .unrated ? level == 0 : (1...255).contains(level) else {
            return fail("scale or level is missing or out of range")
        }
        guard let codeValue: Int64 = row["code"] else { return fail("code is missing") }
        let code = SatisfactionCode(rawValue: Int(codeValue))
        guard kind == .unrated ? codeValue == 0 : code != nil else {
            return fail(kind == .unrated ? "an unrated record has code 0" : "code is not a GB/T 39046 code (1-5)")
        }
        guard let reasonsText: String = row["reasons"], let reasons = stringArray(reasonsText) else {
            return fail("reasons is not a JSON array of strings")
        }
        guard let flagsText: String = row["flags"], let flags = stringArray(flagsText) else {
            return fail("flags is not a JSON array of strings")
        }
        guard let ratedAt: String = row["rated_at"], let monotonic: Int64 = row["monotonic_ns"] else {
            return fail("time fields are missing")
        }
        guard let prevData: Data = row["prev_hash"], let prevHash = ChainHash(bytes: [UInt8](prevData)),
              let hashData: Data = row["hash"], let hash = ChainHash(bytes: [UInt8](hashData)) else {
            return fail("prev_hash or hash is not 32 bytes")
        }
        let rating = NewRating(id: id, kind: kind, refersTo: refersTo, staffId: row["staff_id"], windowId: row["window_id"],
                               matterCode: row["matter_code"], caseNo: row["case_no"], channel: channel, scale: scale, level: Int(level), code: code,
                               reasons: reasons, comment: row["comment"], ratedAt: ratedAt,
                               monotonicNs: UInt64(bitPattern: monotonic), flags: Set(flags.map(RatingFlag.init(rawValue:))))
        // The canonical encoding writes the id in lowercase; a row whose text differs was altered.
        guard idText == id.uuidString.lowercased() else { return fail("id text is not in canonical form") }
        return .success(RatingRecord(seq: seq, deviceId: deviceId, rating: rating, prevHash: prevHash, storedHash: hash))
    }

    static func json(_ strings: [String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: strings, options: [.withoutEscapingSlashes])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func stringArray(_ text: String) -> [String]? {
        guard let data = text.data(using: .utf8),
              let value = try? JSONSerialization.jsonObject(with: data) as? [Any] else { return nil }
        var strings: [String] = []
        for element in value {
            guard let string = element as? String else { return nil }
            strings.append(string)
        }
        return strings
    }

    // MARK: - Validation

    /// Refuses what would make a record unreadable or unverifiable later; the reason says which field.
    static func validate(_ rating: NewRating) throws(StoreError) {
        for (field, value) in [("staffId", rating.staffId), ("windowId", rating.windowId)] {
            if let value, !Identifier.isValidID(value) {
                throw .invalidRating("\(field) '\(value)' must be \(Identifier.idRule)")
            }
        }
        if rating.staffId == nil && rating.windowId == nil {
            throw .invalidRating("a rating needs a staffId or a windowId to say where it was given")
        }
        for (field, value) in [("matterCode", rating.matterCode), ("caseNo", rating.caseNo)] {
            if let value, value.isEmpty || value.count > 128 || value.contains(where: \.isNewline) {
                throw .invalidRating("\(field) must be 1-128 characters on one line")
            }
        }
        guard Identifier.isSlug(rating.scale) else { throw .invalidRating("scale '\(rating.scale)' is not a scale name") }
        switch rating.kind {
        case .unrated:
            guard rating.level == 0, rating.code == nil, rating.reasons.isEmpty, rating.comment == nil, rating.refersTo == nil else {
                throw .invalidRating("an unrated record has no level, code, reasons, comment or refersTo")
            }
        case .rating, .reasons:
            guard (1...10).contains(rating.level) else { throw .invalidRating("level \(rating.level) is outside 1-10") }
            guard rating.code != nil else { throw .invalidRating("a \(rating.kind.rawValue) record needs a GB/T code") }
            guard (rating.kind == .reasons) == (rating.refersTo != nil) else {
                throw .invalidRating("refersTo goes with a reasons record, and a reasons record needs it")
            }
        }
        for reason in rating.reasons where !Identifier.isSlug(reason) {
            throw .invalidRating("reason code '\(reason)' must be lowercase letters, digits or '-'")
        }
        if Set(rating.reasons).count != rating.reasons.count { throw .invalidRating("a reason is given twice") }
        for flag in rating.flags where !Identifier.isSlug(flag.rawValue) {
            throw .invalidRating("flag '\(flag.rawValue)' must be lowercase letters, digits or '-'")
        }
        if let comment = rating.comment, comment.count > 500 {
            throw .invalidRating("comment is \(comment.count) characters; at most 500")
        }
        guard !rating.ratedAt.isEmpty else { throw .invalidRating("ratedAt is empty") }
    }
}

public struct OutboxStatus: Sendable, Codable, Equatable {
    public let deviceId: String
    public let storePath: String
    public let count: Int
    public let lastSeq: UInt64
    public let ackedThroughSeq: UInt64
    public let pending: UInt64
    public let headHash: String
    public let journalMode: String
    public let synchronous: Int
    /// `ok`, or `recovered` when a damaged store was moved aside (see `incidents`).
    public let health: String
    public let incidents: [StoreIncident]
    /// Set when the hub refused this device for good; sync has stopped until it is dealt with.
    public let syncDeadLetter: String?
    public let syncDeadLetterAt: String?
}

public enum ChainVerification: Sendable, Equatable {
    case intact(count: Int, lastSeq: UInt64, headHash: String)
    case broken(seq: UInt64, reason: String)
}

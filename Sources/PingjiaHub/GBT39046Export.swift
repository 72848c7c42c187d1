import Foundation
import PingjiaCore

/// The mapping from our records to the evaluation data items of GB/T 39046-2020 table 9, as the
/// export feed sends them to a provincial platform. Every field and every code is in this one
/// file, as explicit tables: a platform that numbers differently gets its own table, never
/// arithmetic scattered in code.
public enum GBT39046 {
    /// Output field name (the standard's data item) → what fills it. The order is the table's.
    public static let fields: [(name: String, source: String)] = [
        ("评价编号", "id"),
        ("设备编号", "deviceId"),
        ("评价序号", "seq"),
        ("办件编号", "caseNo"),
        ("事项编码", "matterCode"),
        ("工作人员工号", "staffId"),
        ("窗口编号", "windowId"),
        ("评价渠道", "channel → channelCodes"),
        ("满意度代码", "(scale, level) → satisfactionCodes"),
        ("满意度", "满意度代码 → satisfactionLabels"),
        ("差评原因", "reasons → reasonLabels"),
        ("评价内容", "comment"),
        ("评价时间", "ratedAt → YYYYMMDDThhmmss, the hall's local time"),
        ("接收时间", "hub receive time → YYYYMMDDThhmmss, UTC+8"),
        ("记录哈希", "hash"),
    ]

    /// 评价渠道: where the rating was given. Keypads and touch terminals are hall devices
    /// (现场评价器 / 自助终端); a QR scan is a phone (移动端).
    public static let channelCodes: [RatingChannel: String] = [
        .keypad: "3",  // 政务服务大厅评价器
        .touch: "4",   // 政务服务大厅自助终端
        .qr: "2",      // 移动端 (扫码评价)
    ]

    /// 满意度代码 for each level of each shipped scale: (scale, level) → code. The record also
    /// carries the code the kiosk stored; the export checks they agree and refuses a record where
    /// they do not, rather than guess.
    public static let satisfactionCodes: [String: [Int: String]] = [
        "five": [1: "1", 2: "2", 3: "3", 4: "4", 5: "5"],   // 非常满意 满意 基本满意 不满意 非常不满意
        "three": [1: "2", 2: "3", 3: "4"],                  // 满意 一般(=基本满意) 不满意
    ]

    public static let satisfactionLabels: [String: String] = [
        "1": "非常满意", "2": "满意", "3": "基本满意", "4": "不满意", "5": "非常不满意",
    ]

    public static let reasonLabels: [String: String] = [
        "slow": "办理速度慢", "obstruct": "故意刁难", "bribe": "吃拿卡要", "attitude": "服务态度差", "other": "其他",
    ]

    /// Maps one record, or says which field cannot be mapped. A rating maps to the standard's
    /// evaluation items; a 未评价 record to the same items without 满意度 (it counts toward the
    /// unrated rate, never toward satisfaction); a reasons record to 评价编号 = the id of the
    /// rating it completes, with 差评原因 and 评价内容, so the platform attaches them to it.
    public static func map(_ record: RatingRecord, receivedAt: String) -> Result<[String: String], MappingError> {
        let rating = record.rating
        switch rating.kind {
        case .rating: break
        case .unrated: return mapUnrated(record, receivedAt: receivedAt)
        case .reasons: return mapReasons(record, receivedAt: receivedAt)
        }
        guard let channel = channelCodes[rating.channel] else { return .failure(.init(field: "评价渠道", value: rating.channel.rawValue)) }
        guard let code = satisfactionCodes[rating.scale]?[rating.level] else {
            return .failure(.init(field: "满意度代码", value: "scale \(rating.scale) level \(rating.level)"))
        }
        guard let stored = rating.code, code == String(stored.rawValue) else {
            return .failure(.init(field: "满意度代码", value: "scale \(rating.scale) level \(rating.level) is \(code), record says \(rating.code?.rawValue ?? 0)"))
        }
        guard let ratedAt = compactTime(rating.ratedAt) else { return .failure(.init(field: "评价时间", value: rating.ratedAt)) }
        var out: [String: String] = [
            "评价编号": rating.id.uuidString.lowercased(),
            "设备编号": record.deviceId,
            "评价序号": String(record.seq),
            "评价渠道": channel,
            "满意度代码": code,
            "满意度": satisfactionLabels[code] ?? "",
            "评价时间": ratedAt,
            "记录哈希": record.hash.hex,
        ]
        out["办件编号"] = rating.caseNo
        out["事项编码"] = rating.matterCode
        out["工作人员工号"] = rating.staffId
        out["窗口编号"] = rating.windowId
        out["评价内容"] = rating.comment
        if !rating.reasons.isEmpty { out["差评原因"] = rating.reasons.map { reasonLabels[$0] ?? $0 }.joined(separator: ";") }
        if let received = WireTimeCompact.received(receivedAt) { out["接收时间"] = received }
        return .success(out)
    }

    static func mapUnrated(_ record: RatingRecord, receivedAt: String) -> Result<[String: String], MappingError> {
        let rating = record.rating
        guard let channel = channelCodes[rating.channel] else { return .failure(.init(field: "评价渠道", value: rating.channel.rawValue)) }
        guard let time = compactTime(rating.ratedAt) else { return .failure(.init(field: "评价时间", value: rating.ratedAt)) }
        var out: [String: String] = [
            "评价编号": rating.id.uuidString.lowercased(), "设备编号": record.deviceId, "评价序号": String(record.seq),
            "评价渠道": channel, "评价时间": time, "记录哈希": record.hash.hex,
        ]
        out["办件编号"] = rating.caseNo
        out["事项编码"] = rating.matterCode
        out["工作人员工号"] = rating.staffId
        out["窗口编号"] = rating.windowId
        if let received = WireTimeCompact.received(receivedAt) { out["接收时间"] = received }
        return .success(out)
    }

    static func mapReasons(_ record: RatingRecord, receivedAt: String) -> Result<[String: String], MappingError> {
        let rating = record.rating
        guard let target = rating.refersTo else { return .failure(.init(field: "评价编号", value: "a reasons record without refersTo")) }
        var out: [String: String] = [
            "评价编号": target.uuidString.lowercased(), "设备编号": record.deviceId, "评价序号": String(record.seq),
            "记录哈希": record.hash.hex,
        ]
        if !rating.reasons.isEmpty { out["差评原因"] = rating.reasons.map { reasonLabels[$0] ?? $0 }.joined(separator: ";") }
        out["评价内容"] = rating.comment
        if let received = WireTimeCompact.received(receivedAt) { out["接收时间"] = received }
        return .success(out)
    }

    /// `2026-11-24T10:44:00.123+08:00` → `20261124T104400`: the local time the citizen saw, as
    /// written on the device (no time-zone conversion, which would move a rating to another day).
    public static func compactTime(_ iso: String) -> String? {
        let bytes = Array(iso.utf8)
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18].map { bytes[$0] }
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        let text = String(decoding: digits, as: UTF8.self)
        return String(text.prefix(8)) + "T" + String(text.suffix(6))
    }

    public struct MappingError: Error, Sendable, Equatable {
        public let field: String
        public let value: String
    }
}

enum WireTimeCompact {
    /// The hub's UTC receive time as China Standard Time, compact.
    static func received(_ iso: String) -> String? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: iso) else { return nil }
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        formatter.formatOptions = [.withInternetDateTime]
        return GBT39046.compactTime(formatter.string(from: date))
    }
}

/// One page of the export feed: mapped records with their cursors; a record that cannot be
/// mapped is listed with the reason instead of being dropped or guessed.
struct ExportPage: Encodable {
    struct Item: Encodable {
        let cursor: Int64
        /// `rating`, `unrated` (未评价, count apart from satisfaction) or `reasons` (a follow-up
        /// whose 评价编号 is the rating it completes).
        let kind: String
        let fields: [String: String]?
        let error: String?
    }
    let items: [Item]
    let nextCursor: Int64?

    init(records: [ExportedRecord]) {
        items = records.map { exported in
            switch GBT39046.map(exported.record, receivedAt: exported.receivedAt) {
            case .success(let fields): Item(cursor: exported.cursor, kind: exported.record.rating.kind.rawValue, fields: fields, error: nil)
            case .failure(let error):
                Item(cursor: exported.cursor, kind: exported.record.rating.kind.rawValue, fields: nil,
                     error: "\(error.field): cannot map \(error.value)")
            }
        }
        nextCursor = records.last?.cursor
    }
}

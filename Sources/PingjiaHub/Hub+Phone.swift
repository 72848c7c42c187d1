import Crypto
import Foundation
import PingjiaConfig
import PingjiaCore
import PingjiaSyncProtocol

/// The rating scales the hub offers on the phone page: the shipped files (installed, or the
/// source checkout's `scales/`), then `/etc/pingjia/scales`, then `--scales DIR`, a later one
/// winning on the same name, as the kiosk loads them.
public enum HubScales {
    public static let defaultScale = "five"

    public static func standard(extra: String? = nil) -> ScaleCatalog {
        var directories: [String] = []
        // The pingjia-hub package ships them in hub/scales (both packages may share a machine).
        if let shipped = DataDirectories.shipped("scales") ?? DataDirectories.shipped("hub/scales") { directories.append(shipped) }
        directories.append("/etc/pingjia/scales")
        if let extra { directories.append(extra) }
        return ScaleCatalog(directories: directories)
    }
}

/// Everything the phone page shows for one device and staff member (and token, when scanned from
/// a per-transaction QR code).
public struct PhoneContext: Sendable {
    public let device: DeviceEntry
    public let staff: HubStaff
    public let scale: Scale
    public let token: RatingToken?
}

/// A rating as the phone page's form sends it.
public struct PhoneSubmission: Sendable {
    public var deviceId: String
    public var staffId: String
    /// The `t` parameter of a per-transaction QR code; nil from a sticker.
    public var token: String?
    public var level: Int?
    public var reasons: [String]
    public var comment: String?
    /// `Hub.clientHash` of the phone's address.
    public var client: String

    public init(deviceId: String, staffId: String, token: String?, level: Int?, reasons: [String] = [], comment: String? = nil,
                client: String) {
        self.deviceId = deviceId
        self.staffId = staffId
        self.token = token
        self.level = level
        self.reasons = reasons
        self.comment = comment
        self.client = client
    }
}

/// Why the phone page refuses, in words for the citizen, with the HTTP status.
public struct PhoneRefusal: Error, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case unknownDevice, unknownStaff, malformedToken, forgedToken, wrongDevice, wrongStaff, expiredToken, reusedToken
        case badLevel, badReason, commentTooLong, rateLimited, unavailable
    }

    public let kind: Kind
    public let status: Int
    public let title: String
    public let detail: String

    static func of(_ kind: Kind) -> PhoneRefusal {
        switch kind {
        case .unknownDevice: .init(kind: kind, status: 404, title: "找不到该评价设备", detail: "二维码中的设备不存在或已停用，请向窗口工作人员索取新的二维码。")
        case .unknownStaff: .init(kind: kind, status: 404, title: "找不到该工作人员", detail: "二维码中的工作人员不在本大厅的名单中，请向窗口咨询。")
        case .malformedToken: .init(kind: kind, status: 400, title: "二维码无法识别", detail: "该评价链接不完整或已损坏，请重新扫描窗口屏幕上的二维码。")
        case .forgedToken: .init(kind: kind, status: 403, title: "评价码无效", detail: "该评价码不是本大厅设备签发的，无法评价。请扫描窗口屏幕上的二维码。")
        case .wrongDevice: .init(kind: kind, status: 403, title: "评价码与设备不符", detail: "该评价码属于另一台设备，请扫描本窗口屏幕上的二维码。")
        case .wrongStaff: .init(kind: kind, status: 403, title: "评价码与工作人员不符", detail: "该评价码属于另一位工作人员，请扫描本窗口屏幕上的二维码。")
        case .expiredToken: .init(kind: kind, status: 410, title: "评价码已过期", detail: "该评价码已超过有效期。您仍可扫描窗口张贴的工作人员二维码进行评价。")
        case .reusedToken: .init(kind: kind, status: 409, title: "该事项已评价", detail: "一事一评：这次办事已经评价过了，感谢您的参与。")
        case .badLevel: .init(kind: kind, status: 422, title: "请选择评价等级", detail: "请先选择一个评价等级，再提交。")
        case .badReason: .init(kind: kind, status: 422, title: "评价原因无效", detail: "所选的原因不在本大厅的原因列表中，请返回重新选择。")
        case .commentTooLong:
            .init(kind: kind, status: 422, title: "留言太长", detail: "留言最多 \(Hub.maxCommentCharacters) 个字，请删减后再提交。")
        case .rateLimited: .init(kind: kind, status: 429, title: "提交太频繁", detail: "您的评价次数过多，请稍后再试。")
        case .unavailable: .init(kind: kind, status: 503, title: "系统繁忙", detail: "评价暂时无法保存，请稍后再试。")
        }
    }
}

extension Hub {
    /// Longest comment accepted from the phone page, in characters.
    public static let maxCommentCharacters = 200

    /// A keyed hash of a client address for `phone_rating.client` and rate limits: the same address
    /// gives the same value on this hub, but the address cannot be recovered by trying all of them
    /// without the hub's key.
    public func clientHash(_ address: String) -> String {
        let secret = SymmetricKey(data: SHA256.hash(data: Array("pingjia-client-v1".utf8) + Array(key.privateKey.rawRepresentation)))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(address.utf8), using: secret)
        return mac.prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// What the phone page needs for `deviceId`/`staffId`, or why it must refuse: the device is
    /// enrolled and active, the staff member is in its hall's roster, and a token (if any) is the
    /// device's, for this staff member, unexpired and unused.
    public func phoneContext(deviceId: String, staffId: String, token: String?) async -> Result<PhoneContext, PhoneRefusal> {
        do {
            guard Identifier.isValidID(deviceId), let device = try await storage.device(id: deviceId), device.status == .active,
                  let keyText = device.publicKey, let deviceKey = PublicKey(base64: keyText) else {
                return .failure(.of(.unknownDevice))
            }
            guard Identifier.isValidID(staffId), let staff = try await storage.hubStaff(hall: device.hall, staffId: staffId) else {
                // The operator's clue when phones get 404s: usually a roster not (yet) imported on the hub.
                logger.notice("phone page for staff not in the hall's roster (pingjia-hub roster import --hall)",
                              metadata: ["hall": "\(device.hall)", "staff": "\(staffId.prefix(64))", "device": "\(deviceId)"])
                return .failure(.of(.unknownStaff))
            }
            let scaleName = try await storage.hallScale(hall: device.hall) ?? HubScales.defaultScale
            guard let scale = scales.scales[scaleName] else {
                logger.error("the hall's scale is not loaded", metadata: ["hall": "\(device.hall)", "scale": "\(scaleName)"])
                return .failure(.of(.unavailable))
            }
            var verified: RatingToken?
            if let token {
                let decoded: RatingToken
                do { decoded = try RatingToken.decode(token).token } catch { return .failure(.of(.malformedToken)) }
                guard decoded.deviceId == deviceId else { return .failure(.of(.wrongDevice)) }
                switch RatingToken.verify(token, deviceKey: deviceKey, now: now()) {
                case .success(let good): verified = good
                case .failure(.expired): return .failure(.of(.expiredToken))
                case .failure(.malformed): return .failure(.of(.malformedToken))
                case .failure(.badSignature), .failure(.notYetValid):
                    logger.warning("phone rating with a token the device did not sign", metadata: ["device": "\(deviceId)"])
                    return .failure(.of(.forgedToken))
                }
                guard decoded.staffId == staffId else { return .failure(.of(.wrongStaff)) }
                if try await storage.isTokenUsed(nonce: decoded.nonce) { return .failure(.of(.reusedToken)) }
            }
            return .success(PhoneContext(device: device, staff: staff, scale: scale, token: verified))
        } catch {
            logger.error("phone page storage error", metadata: ["error": "\(error)"])
            return .failure(.of(.unavailable))
        }
    }

    /// Checks and stores one rating from the phone page: a token's rating at most once, atomically
    /// (concurrent submits of one token store one row; the others get `.reusedToken`). Sticker
    /// rate limits are the caller's (per client address, before calling).
    public func ratePhone(_ submission: PhoneSubmission) async -> Result<PhoneRating, PhoneRefusal> {
        let context: PhoneContext
        switch await phoneContext(deviceId: submission.deviceId, staffId: submission.staffId, token: submission.token) {
        case .success(let found): context = found
        case .failure(let refusal): return .failure(refusal)
        }
        guard let value = submission.level, let level = context.scale.level(value) else { return .failure(.of(.badLevel)) }
        // Reasons belong to a bad rating; ticked and then left behind for a good one, they are dropped.
        var reasons: [String] = []
        if level.isBad {
            for code in submission.reasons where !reasons.contains(code) {
                guard context.scale.reason(code) != nil else { return .failure(.of(.badReason)) }
                reasons.append(code)
            }
        }
        let comment = submission.comment?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let comment, comment.count > Self.maxCommentCharacters { return .failure(.of(.commentTooLong)) }
        let token = context.token
        let rating = PhoneRating(hall: context.device.hall, deviceId: submission.deviceId, staffId: submission.staffId,
                                 windowId: token?.windowId ?? context.staff.staff.windowId, matterCode: token?.matterCode,
                                 caseNo: token?.caseNo, scale: context.scale.name, code: level.code.rawValue, reasons: reasons,
                                 comment: comment?.isEmpty == false ? comment : nil, source: token == nil ? .sticker : .token,
                                 tokenNonce: token?.nonce, client: submission.client,
                                 // Milliseconds, as stored: the rating returned is the row read back.
                                 ratedAt: Date(timeIntervalSince1970: (now().timeIntervalSince1970 * 1000).rounded(.down) / 1000))
        do {
            switch try await storage.storePhoneRating(rating) {
            case .stored:
                logger.info("phone rating stored", metadata: ["device": "\(rating.deviceId)", "staff": "\(rating.staffId)",
                                                              "code": "\(rating.code)", "source": "\(rating.source.rawValue)"])
                return .success(rating)
            case .tokenUsed:
                return .failure(.of(.reusedToken))
            }
        } catch {
            logger.error("phone rating not stored", metadata: ["error": "\(error)"])
            return .failure(.of(.unavailable))
        }
    }
}

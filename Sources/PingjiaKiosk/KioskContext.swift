import Foundation
import Logging
import PingjiaConfig
import PingjiaCore
import PingjiaStore

/// Everything a kiosk process works with, opened from one state directory: the config, the
/// device id, the rating scales and the store. The daemon and the installer's CLI both start here,
/// so a test rating from `pingjia rate` takes the same path as a key press.
public final class KioskContext: Sendable {
    public let location: StateLocation
    /// The running configuration: the local file over the hub's, replaced whole when the hub's
    /// changes. Read it per use; `config` is the snapshot of this moment.
    public let live: LiveConfig
    public var config: KioskConfig { live.config }
    public let deviceId: String
    public let scales: ScaleCatalog
    public let store: KioskStore
    /// Ratings, flags and commit latency for /metrics (pingjiad); nothing for the CLI.
    public let metrics: any KioskMetrics
    let clock: any DeviceClock
    let logger: Logger

    /// - Parameter create: make the state directory, device id and store if missing (init, daemon);
    ///   otherwise a missing store is an error telling the installer to run `pingjia init`.
    public init(location: StateLocation, create: Bool, logger: Logger,
                clock: any DeviceClock = SystemDeviceClock(),
                metrics: any KioskMetrics = NoKioskMetrics()) throws(KioskError) {
        self.location = location
        self.clock = clock
        self.logger = logger
        self.metrics = metrics
        var effective: EffectiveConfig
        do {
            effective = try EffectiveConfig.loadLocal(location)
        } catch {
            throw .config(error.description)
        }
        // The hub's configuration applied before the last restart. If it no longer fits (the
        // local file changed since), the local file alone is used and the next fetch says why.
        do {
            if let applied = try AppliedRemoteConfig.load(location) {
                effective = try effective.applying(applied)
            }
        } catch {
            logger.error("the hub's configuration kept in the state directory is not used",
                         metadata: ["file": "\(AppliedRemoteConfig.file(location))", "reason": "\(error)"])
        }
        live = LiveConfig(effective)
        if create {
            do {
                try FileManager.default.createDirectory(atPath: location.stateDirectory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o750])
            } catch {
                throw .stateDirectory("cannot create the state directory \(location.stateDirectory): \(error.localizedDescription)")
            }
        }
        do {
            deviceId = try DeviceIdentity.load(location, create: create)
        } catch {
            throw .stateDirectory(error.description)
        }
        scales = ScaleCatalog.standard(for: location)
        for problem in scales.problems {
            logger.error("scale file rejected", metadata: ["problem": "\(problem)"])
        }
        do {
            store = create
                ? try KioskStore.open(path: location.storeFile, deviceId: deviceId, logger: logger)
                : try KioskStore.openExisting(path: location.storeFile, deviceId: deviceId, logger: logger)
        } catch {
            throw .store(error.description)
        }
    }

    /// The scale the hall rates on (`[rating] scale`), or `name` when given.
    public func scale(_ name: String? = nil) throws(KioskError) -> Scale {
        do {
            return try scales.scale(named: name ?? config.scale)
        } catch {
            throw .rating(error.description)
        }
    }

    /// Records one rating for `staffId` at their window and returns it once it is on disk,
    /// blocking the calling thread until then: for callers that are not async code (tests, the
    /// self-test). Presses take `press`, which commits on the store's writer thread.
    /// A nil `staffId` (a self-service machine, a device paired with nobody: the caller flags
    /// that) or one not in the roster (flagged `unarmed` here): kept, with no staff.
    public func rate(staffId: String?, level: Int, scale scaleName: String? = nil, reasons: [String] = [],
                     comment: String? = nil, channel: RatingChannel, flags: Set<RatingFlag> = [],
                     windowId: String? = nil, matterCode: String? = nil, caseNo: String? = nil) throws(KioskError) -> RatingRecord {
        let choice = try choice(level: level, scale: scaleName, reasons: reasons, comment: comment)
        let started = ContinuousClock.now
        let record = try commit(choice, staffId: staffId, channel: channel, flags: flags, windowId: windowId,
                                matterCode: matterCode, caseNo: caseNo)
        metrics.committed(level: level, channel: channel, flags: record.rating.flags, duration: ContinuousClock.now - started)
        return record
    }

    /// The level, reasons and comment checked against the scale (`RatingChoice`).
    func choice(level: Int, scale scaleName: String?, reasons: [String], comment: String?) throws(KioskError) -> RatingChoice {
        let scale = try scale(scaleName)
        do {
            return try RatingChoice(scale: scale, level: level, reasons: reasons, comment: comment)
        } catch {
            throw .input(error)
        }
    }

    /// Builds the rating and appends it; blocks until the commit is on disk. A staff member not in
    /// the roster (a stale pairing, someone removed while signed in) must not cost the citizen's
    /// press: the rating is kept without staff, flagged `unarmed`, as on a device paired with nobody.
    /// A rating with no staff named (a self-service machine's) is kept as the caller flagged it.
    func commit(_ choice: RatingChoice, staffId: String?, channel: RatingChannel, flags: Set<RatingFlag>,
                windowId: String?, matterCode: String?, caseNo: String?) throws(KioskError) -> RatingRecord {
        var staff: Staff?
        var flags = flags
        if let staffId {
            do {
                staff = try store.staff(id: staffId)
            } catch {
                throw .store(error.description)
            }
            if staff == nil {
                logger.error("staff not in the roster; the rating is kept unarmed: import it with `pingjia roster import FILE.csv`",
                             metadata: ["staff": "\(staffId)", "window": "\(windowId ?? "-")"])
                flags.insert(.unarmed)
            }
        }
        let now = clock.now()
        let rating = NewRating(staffId: staff?.id, windowId: windowId ?? staff?.windowId, matterCode: matterCode, caseNo: caseNo,
                               channel: channel, scale: choice.scale.name, level: choice.level.value, code: choice.level.code,
                               reasons: choice.reasons, comment: choice.comment, ratedAt: now.wallClock,
                               monotonicNs: now.monotonicNs, flags: flags)
        do {
            return try store.append(rating)
        } catch {
            throw .store(error.description)
        }
    }

    /// How long after a bad rating its reasons are still taken. The touch page asks at once and
    /// gives up after a minute; this is the hard limit for anything that sends them later.
    public static let followUpWindowNs: UInt64 = 10 * 60 * 1_000_000_000

    /// Records 未评价 for a session that timed out: its own record kind in the same chain, synced
    /// like a rating, never counted as one.
    @discardableResult
    public func recordUnrated(staffId: String?, windowId: String, matterCode: String?, caseNo: String?,
                              channel: RatingChannel, id: UUID = UUID()) throws(KioskError) -> RatingRecord {
        let record: RatingRecord
        do {
            record = try store.append(.unrated(staffId: staffId, windowId: windowId, matterCode: matterCode, caseNo: caseNo,
                                               channel: channel, scale: config.scale, at: clock.now(), id: id))
        } catch {
            throw .store(error.description)
        }
        metrics.unrated(windowId: windowId)
        return record
    }

    /// Attaches reasons and a comment to the bad rating `ratingId`, as a follow-up record. The
    /// rating itself was committed (and thanked for) before; this never changes it.
    public func addReasons(to ratingId: UUID, reasons: [String], comment: String?,
                           channel: RatingChannel) throws(KioskError) -> RatingRecord {
        let scale = try self.scale()
        let checked: (reasons: [String], comment: String?)
        do {
            checked = try RatingChoice.followUp(scale: scale, reasons: reasons, comment: comment)
        } catch {
            throw .input(error)
        }
        do {
            return try store.appendReasons(to: ratingId, reasons: checked.reasons, comment: checked.comment, channel: channel,
                                           at: clock.now(), windowNs: Self.followUpWindowNs)
        } catch let StoreError.followUpRefused(refusal) {
            throw .followUp(refusal)
        } catch {
            throw .store(error.description)
        }
    }

    public func close() { store.close() }
}

public enum KioskError: Error, Sendable, CustomStringConvertible {
    case config(String)
    case stateDirectory(String)
    case store(String)
    /// No usable rating scale.
    case rating(String)
    /// What was chosen does not fit the scale (level, reasons, comment).
    case input(RatingError)
    case followUp(FollowUpRefusal)

    public var description: String {
        switch self {
        case let .config(text), let .stateDirectory(text), let .store(text), let .rating(text): text
        case let .input(error): error.description
        case let .followUp(refusal): refusal.description
        }
    }
}

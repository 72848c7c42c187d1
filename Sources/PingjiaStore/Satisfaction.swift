import GRDB
import PingjiaCore

/// A staff member's recent satisfaction, as the window display shows it in stars.
public struct RecentSatisfaction: Sendable, Equatable {
    /// How many ratings it is over (at most the limit asked for).
    public let count: Int
    /// Mean stars, 1 (非常不满意) to 5 (非常满意); nil with no ratings.
    public let stars: Double?

    public init(count: Int, stars: Double?) {
        self.count = count
        self.stars = stars
    }
}

extension KioskStore {
    /// The last `limit` ratings of `staffId` that count in statistics: kind `rating` with no flag
    /// (未评价, follow-ups, tests, repeats, bursts, presses while paused are left out). Stars are
    /// 6 − the GB/T code, so 非常满意 is 5 stars on any scale. Only rows still in the outbox count:
    /// pruning acknowledged rows shortens the window, it never invents ratings.
    public func recentSatisfaction(staffId: String, limit: Int = 100) throws(StoreError) -> RecentSatisfaction {
        try read("reading recent satisfaction") { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT count(*) AS n, avg(6 - code) AS stars FROM (
                    SELECT code FROM rating WHERE staff_id = ? AND kind = 'rating' AND flags = '[]'
                    ORDER BY seq DESC LIMIT ?)
                """, arguments: [staffId, limit])
            let count: Int = row?["n"] ?? 0
            return RecentSatisfaction(count: count, stars: count == 0 ? nil : row?["stars"])
        }
    }
}

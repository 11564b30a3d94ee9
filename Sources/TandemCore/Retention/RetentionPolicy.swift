import Foundation

/// Which snapshots to keep: restic's rules. Each `keep*` count keeps the newest snapshot of
/// each of the last N hours/days/ISO weeks/months/years that have one; `keepLast` keeps the N
/// newest; `keepWithin` keeps everything younger than that many seconds.
public struct RetentionPolicy: Sendable, Equatable, Codable {
    public var keepLast: Int?
    public var keepHourly: Int?
    public var keepDaily: Int?
    public var keepWeekly: Int?
    public var keepMonthly: Int?
    public var keepYearly: Int?
    public var keepWithin: TimeInterval?

    public init(keepLast: Int? = nil, keepHourly: Int? = nil, keepDaily: Int? = nil, keepWeekly: Int? = nil,
                keepMonthly: Int? = nil, keepYearly: Int? = nil, keepWithin: TimeInterval? = nil) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepWithin = keepWithin
    }

    /// Refuses a policy that would keep nothing, or negative counts.
    public func validate() throws(RetentionError) {
        let counts = [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly].compactMap { $0 }
        if counts.contains(where: { $0 < 0 }) || (keepWithin ?? 0) < 0 { throw .negative }
        guard counts.contains(where: { $0 > 0 }) || (keepWithin ?? 0) > 0 else { throw .keepsNothing }
    }
}

/// Why a retention policy was refused.
public enum RetentionError: Error, Equatable, CustomStringConvertible {
    case keepsNothing
    case negative

    public var description: String {
        switch self {
        case .keepsNothing: "retention keeps nothing: give at least one keep rule greater than 0"
        case .negative: "retention counts and durations must not be negative"
        }
    }
}

/// A snapshot as retention sees it.
public struct RetentionCandidate: Sendable, Equatable {
    public let id: String
    public let time: Date
    /// Whether the manifest's authentication tag verified under the tenant key. Retention
    /// ignores the others entirely: they neither fill a keep bucket (a forged snapshot cannot
    /// push a real one out) nor get removed (check reports them).
    public let authenticated: Bool

    public init(id: String, time: Date, authenticated: Bool = true) {
        self.id = id
        self.time = time
        self.authenticated = authenticated
    }
}

/// The verdict on one snapshot, with every rule that keeps it.
public struct RetentionDecision: Sendable, Equatable, Codable {
    public let id: String
    public let time: Date
    public let keep: Bool
    public let reasons: [String]
}

/// Applies a ``RetentionPolicy``: a pure function of the snapshots, the policy, the time zone the
/// buckets are counted in, and now.
public enum Retention {
    /// Decisions newest first, one per authenticated snapshot (unauthenticated ones are left
    /// out: see ``RetentionCandidate/authenticated``). Snapshots with equal times are ordered by
    /// ID so the result is stable. The newest snapshot is always kept, whatever the rules say,
    /// so retention can never leave a source with no snapshot at all.
    public static func decide(_ snapshots: [RetentionCandidate], policy: RetentionPolicy, timeZone: TimeZone,
                              now: Date) -> [RetentionDecision] {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        let ordered = snapshots.filter(\.authenticated).sorted { ($0.time, $0.id) > ($1.time, $1.id) }
        struct Rule {
            let name: String
            var remaining: Int
            let bucket: (Date) -> Int
            var last: Int?
        }
        func key(_ components: Set<Calendar.Component>, _ combine: @escaping (DateComponents) -> Int) -> (Date) -> Int {
            { combine(calendar.dateComponents(components, from: $0)) }
        }
        var rules: [Rule] = []
        var sequence = 0
        if let n = policy.keepLast, n > 0 {
            rules.append(Rule(name: "last snapshot", remaining: n, bucket: { _ in sequence }, last: nil))
        }
        let calendarRules: [(Int?, String, Set<Calendar.Component>, (DateComponents) -> Int)] = [
            (policy.keepHourly, "hourly snapshot", [.year, .month, .day, .hour],
             { ($0.year! * 10000 + $0.month! * 100 + $0.day!) * 100 + $0.hour! }),
            (policy.keepDaily, "daily snapshot", [.year, .month, .day], { $0.year! * 10000 + $0.month! * 100 + $0.day! }),
            (policy.keepWeekly, "weekly snapshot", [.yearForWeekOfYear, .weekOfYear],
             { $0.yearForWeekOfYear! * 100 + $0.weekOfYear! }),
            (policy.keepMonthly, "monthly snapshot", [.year, .month], { $0.year! * 100 + $0.month! }),
            (policy.keepYearly, "yearly snapshot", [.year], { $0.year! }),
        ]
        for (count, name, components, combine) in calendarRules {
            if let count, count > 0 { rules.append(Rule(name: name, remaining: count, bucket: key(components, combine), last: nil)) }
        }
        var decisions: [RetentionDecision] = []
        for snapshot in ordered {
            sequence += 1
            var reasons: [String] = sequence == 1 ? ["newest snapshot"] : []
            if let within = policy.keepWithin, within > 0, now.timeIntervalSince(snapshot.time) < within {
                reasons.append("within \(Int(within))s")
            }
            for index in rules.indices where rules[index].remaining > 0 {
                let bucket = rules[index].bucket(snapshot.time)
                if bucket != rules[index].last {
                    rules[index].last = bucket
                    rules[index].remaining -= 1
                    reasons.append(rules[index].name)
                }
            }
            decisions.append(RetentionDecision(id: snapshot.id, time: snapshot.time, keep: !reasons.isEmpty, reasons: reasons))
        }
        return decisions
    }
}

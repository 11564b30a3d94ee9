import Foundation

/// `policy simulate`: the runs a tenant's schedules would start over a period, and what its
/// retention would keep of the snapshots they (and the existing ones) make, with reasons.
public struct SimulationReport: Codable, Sendable, Equatable {
    /// One planned run.
    public struct Run: Codable, Sendable, Equatable {
        public var time: Date
        public var source: String
        public var schedule: String

        public init(time: Date, source: String, schedule: String) {
            self.time = time
            self.source = source
            self.schedule = schedule
        }
    }

    /// The verdict on one snapshot at the end of the period.
    public struct Verdict: Codable, Sendable, Equatable {
        public var snapshotTime: Date
        public var source: String
        /// Whether it exists already (false: it would be made by a planned run).
        public var existing: Bool
        public var keep: Bool
        public var reasons: [String]
        /// For a snapshot retention would remove: when (after which run) it goes.
        public var removedAt: Date?

        public init(snapshotTime: Date, source: String, existing: Bool, keep: Bool, reasons: [String], removedAt: Date?) {
            self.snapshotTime = snapshotTime
            self.source = source
            self.existing = existing
            self.keep = keep
            self.reasons = reasons
            self.removedAt = removedAt
        }
    }

    public var tenant: String
    public var site: String
    public var from: Date
    public var until: Date
    public var runs: [Run]
    public var retention: [Verdict]

    public init(tenant: String, site: String, from: Date, until: Date, runs: [Run], retention: [Verdict]) {
        self.tenant = tenant
        self.site = site
        self.from = from
        self.until = until
        self.runs = runs
        self.retention = retention
    }
}

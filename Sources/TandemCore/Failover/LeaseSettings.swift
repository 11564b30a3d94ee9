/// Heartbeat and lease timing for one group of three sites. All three must run with the same
/// settings (the site link refuses to pair otherwise).
///
/// - ``interval``: heartbeats and lease renewals are sent this often.
/// - ``failoverAfter``: the twin suspects the active site after this many missed heartbeats.
/// - ``leaseDuration`` (`L`): how long a voter promises not to grant the tenant to anyone else,
///   counted on the voter's clock from the moment it grants.
/// - ``driftMargin`` (`D`): the stated bound on clock drift. The assumption is: if one site's
///   monotonic clock advances by `d ≤ L` over some span of real time, no other site's clock
///   advances by more than `d + D` over the same span. (With rates within `1 ± ρ` of real
///   time this holds when `ρ ≤ D / (2L + D)`; for `L` = 10 s and `D` = 500 ms that is 2.4 %,
///   several thousand times what quartz clocks drift.)
///
/// Validation, and why:
/// - `interval > 0`, `failoverAfter ≥ 1`, `D > 0` (no two clocks run at exactly one rate).
/// - `L > interval × failoverAfter + D`. A holder may write for `L − D` after each renewal it
///   sends (``holderLease``); that must outlast `failoverAfter` renewal intervals, so losing
///   fewer renewals than it takes the twin to suspect a failure never stops the writer.
public struct LeaseSettings: Sendable, Hashable, CustomStringConvertible {
    /// How often heartbeats and lease renewals are sent.
    public let interval: Duration
    /// Missed heartbeats after which the twin suspects the active site.
    public let failoverAfter: Int
    /// The length of a voter's promise (`L`), on the voter's clock.
    public let leaseDuration: Duration
    /// The stated clock-drift bound (`D`) over one lease duration.
    public let driftMargin: Duration

    /// Checks the settings; see the type's documentation for the rules.
    public init(interval: Duration = .seconds(1), failoverAfter: Int = 3,
                leaseDuration: Duration = .seconds(10), driftMargin: Duration = .milliseconds(500))
        throws(LeaseSettingsError)
    {
        guard interval > .zero else { throw .intervalNotPositive(interval) }
        guard failoverAfter >= 1, failoverAfter <= 1_000 else { throw .failoverAfterOutOfRange(failoverAfter) }
        guard driftMargin > .zero else { throw .driftMarginNotPositive(driftMargin) }
        let minimum = interval * failoverAfter + driftMargin
        guard leaseDuration > minimum else { throw .leaseTooShort(lease: leaseDuration, mustExceed: minimum) }
        self.interval = interval
        self.failoverAfter = failoverAfter
        self.leaseDuration = leaseDuration
        self.driftMargin = driftMargin
    }

    /// 1 s heartbeats, failover after 3 missed, 10 s leases, 500 ms drift margin.
    public static let standard: LeaseSettings = {
        do {
            return try LeaseSettings()
        } catch {
            preconditionFailure("the standard lease settings are valid: \(error)")
        }
    }()

    /// How long after sending a request a holder may write on the grant it gets back: `L − D`.
    public var holderLease: Duration { leaseDuration - driftMargin }

    /// How long the twin waits without heartbeats before it suspects the active site.
    public var detectionTime: Duration { interval * failoverAfter }

    /// The number of grants (out of `voters`) a lease needs: a strict majority.
    public static func quorum(of voters: Int) -> Int { voters / 2 + 1 }

    public var description: String {
        "interval \(interval), failover after \(failoverAfter), lease \(leaseDuration), drift margin \(driftMargin)"
    }
}

/// Why lease settings were refused.
public enum LeaseSettingsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The heartbeat interval is zero or negative.
    case intervalNotPositive(Duration)
    /// `failover_after` is below 1 or absurdly large.
    case failoverAfterOutOfRange(Int)
    /// The drift margin is zero or negative: no two clocks run at exactly the same rate.
    case driftMarginNotPositive(Duration)
    /// The lease does not exceed `interval × failover_after + drift margin`.
    case leaseTooShort(lease: Duration, mustExceed: Duration)

    public var description: String {
        switch self {
        case .intervalNotPositive(let interval):
            "the heartbeat interval (\(interval)) must be greater than zero"
        case .failoverAfterOutOfRange(let count):
            "failover_after (\(count)) must be between 1 and 1000 missed heartbeats"
        case .driftMarginNotPositive(let margin):
            "the clock drift margin (\(margin)) must be greater than zero"
        case .leaseTooShort(let lease, let minimum):
            "the lease (\(lease)) must be longer than interval × failover_after + drift margin (\(minimum)), "
                + "or a holder would stop writing before its twin could take over"
        }
    }
}

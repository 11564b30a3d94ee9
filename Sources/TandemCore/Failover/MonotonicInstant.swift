/// A reading of one site's monotonic clock, in nanoseconds since an arbitrary origin.
///
/// The lease and failover machines never read a clock: the runtime hands in the instant of
/// every event (from `ContinuousClock` or `CLOCK_MONOTONIC`), tests hand in a manual one.
/// Readings of different sites' clocks are **not comparable**: the origins differ and the
/// rates drift. Only durations travel between sites, and every comparison of a remote promise
/// with a local instant goes through ``LeaseSettings/driftMargin`` (see ``LeaseHolderMachine``).
public struct MonotonicInstant: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since this clock's origin.
    public var nanoseconds: Int64

    /// The reading `nanoseconds` after this clock's origin.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The reading `offset` after this clock's origin.
    public init(_ offset: Duration) {
        self.nanoseconds = offset.clampedNanoseconds
    }

    /// The clock's origin.
    public static let zero = MonotonicInstant(nanoseconds: 0)

    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// The reading `duration` later (saturating instead of trapping).
    public static func + (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.clampedNanoseconds)
        guard !overflow else { return MonotonicInstant(nanoseconds: rhs > .zero ? .max : .min) }
        return MonotonicInstant(nanoseconds: sum)
    }

    /// The reading `duration` earlier (saturating instead of trapping).
    public static func - (lhs: MonotonicInstant, rhs: Duration) -> MonotonicInstant {
        lhs + (.zero - rhs)
    }

    /// The time from `rhs` to `lhs` on this clock (negative when `lhs` is earlier).
    public static func - (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Duration {
        let (difference, overflow) = lhs.nanoseconds.subtractingReportingOverflow(rhs.nanoseconds)
        guard !overflow else { return .nanoseconds(lhs > rhs ? Int64.max : Int64.min) }
        return .nanoseconds(difference)
    }

    public var description: String { "\(Duration.nanoseconds(nanoseconds))" }
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64` (lease timing never needs finer or longer).
    var clampedNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds > 0 ? .max : .min }
        let (sum, overflowSum) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        guard !overflowSum else { return seconds > 0 ? .max : .min }
        return sum
    }
}

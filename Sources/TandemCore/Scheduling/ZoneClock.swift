import Foundation

/// How one local wall-clock time maps onto instants in a time zone.
enum WallTimeResolution: Equatable, Sendable {
    /// The wall time occurs exactly once, at this instant (whole seconds since 1970 UTC).
    case unique(Int64)
    /// The wall time occurs twice because clocks were set back (fall-back): the first
    /// occurrence is on the old (summer) offset, the second on the new one.
    case repeated(first: Int64, second: Int64)
    /// The wall time does not exist because clocks jumped over it (spring-forward);
    /// `gapEnd` is the first instant after the jump, i.e. the transition itself.
    case skipped(gapEnd: Int64)
}

/// Conversions between instants and local wall-clock time in one zone, using only the zone's
/// UTC offsets (`TimeZone.secondsFromGMT(for:)`).
///
/// `Calendar.date(from:)` is deliberately not used to go from wall time to an instant: what it
/// returns for a skipped or repeated wall time is not specified, and the schedulers must decide
/// that explicitly (see ``CronExpression`` and ``TimeWindow``). Offsets are whole seconds and
/// transitions happen on whole seconds in the tz database, so instants are whole seconds here.
struct ZoneClock: Sendable {
    let timeZone: TimeZone

    /// The zone's UTC offset in seconds at an instant.
    func offset(at instant: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }

    /// The wall-clock time at an instant, as seconds since 1970-01-01 00:00 local.
    func wallSeconds(at instant: Int64) -> Int64 {
        instant + offset(at: instant)
    }

    /// The wall-clock time at a possibly fractional instant, floored to the second.
    func wallSeconds(at instant: Date) -> Int64 {
        wallSeconds(at: Self.wholeSeconds(instant))
    }

    /// Floors an instant to whole seconds since 1970, clamped to a range far beyond any schedule.
    static func wholeSeconds(_ instant: Date) -> Int64 {
        let seconds = instant.timeIntervalSince1970
        guard seconds.isFinite else { return seconds > 0 ? maximumSeconds : -maximumSeconds }
        return Int64(max(-Double(maximumSeconds), min(Double(maximumSeconds), seconds.rounded(.down))))
    }

    /// About ±10,000 years: keeps all arithmetic far from overflow.
    static let maximumSeconds: Int64 = 315_569_520_000

    /// The first instant in `(after, through]` at which the zone's offset differs from the one at
    /// `after`, or nil if the offsets at both ends agree (spans here are a few days at most, and no
    /// zone changes its offset twice within them).
    func firstOffsetChange(after start: Int64, through end: Int64) -> Int64? {
        let before = offset(at: start)
        guard end > start, offset(at: end) != before else { return nil }
        var low = start, high = end
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) != before { high = middle } else { low = middle }
        }
        return high
    }

    /// Every instant whose wall-clock time is `wall` seconds since 1970-01-01 00:00 local, or the
    /// end of the gap that swallowed it.
    ///
    /// The offsets in force a day before and a day after bound every candidate (no zone changes
    /// its offset twice within two days); a candidate instant is real when the zone's offset at
    /// it is the offset that produced it.
    func resolve(wall: Int64) -> WallTimeResolution {
        let offsets = Set([wall - 86_400, wall, wall + 86_400].map(offset(at:))).sorted()
        let hits = Set(offsets.map { wall - $0 }.filter { wallSeconds(at: $0) == wall }).sorted()
        if hits.count >= 2, let first = hits.first, let second = hits.last {
            return .repeated(first: first, second: second)
        }
        if let only = hits.first { return .unique(only) }
        // A gap: the wall clock reads less than `wall` at `low` and more than it at `high`.
        // Bisect for the first instant reading more, which is the transition itself.
        var low = wall - (offsets.last ?? 0)
        var high = wall - (offsets.first ?? 0)
        guard low < high, wallSeconds(at: low) < wall, wallSeconds(at: high) > wall else {
            return .skipped(gapEnd: high)
        }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if wallSeconds(at: middle) > wall { high = middle } else { low = middle }
        }
        return .skipped(gapEnd: high)
    }
}

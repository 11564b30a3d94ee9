import Foundation

extension CronExpression {
    /// How far ahead ``nextFire(after:in:)`` looks before giving up.
    public static let searchHorizonYears = 30

    /// The first instant strictly after `instant` at which the schedule fires, in whole minutes
    /// (seconds are zero), or `nil` if it does not fire within the next
    /// ``searchHorizonYears`` years (which validation makes practically impossible).
    ///
    /// The fields are matched against local wall-clock time in `timeZone`. At daylight-saving
    /// (or any other offset) transitions:
    ///
    /// - **Skipped times fire at the end of the gap.** A matching wall time that does not exist
    ///   because clocks jumped forward fires once, at the first instant after the jump. A daily
    ///   `30 2 * * *` in Europe/Berlin therefore still runs on the last Sunday of March, at
    ///   03:00 CEST. Several matching times in one gap (`*/15 * * * *` between 02:00 and 03:00)
    ///   collapse into that single fire, which also covers a match at the gap's end itself.
    /// - **Repeated times fire once, at their first occurrence.** A wall time that occurs twice
    ///   because clocks were set back fires on the earlier (summer-time) pass only: `30 1 * * *` in
    ///   America/New_York fires at 01:30 EDT on the first Sunday of November and not again at
    ///   01:30 EST. This holds for every field, so `*/15 * * * *` is silent during the repeated
    ///   hour, whose wall times all fired an hour earlier.
    ///
    /// Fire instants are thus a non-decreasing function of matching wall times, and each fire is
    /// reported once. The search steps field by field (month, day, hour, minute), so it costs a
    /// handful of offset look-ups, not one per minute.
    public func nextFire(after instant: Date, in timeZone: TimeZone) -> Date? {
        let clock = ZoneClock(timeZone: timeZone)
        let after = instant.timeIntervalSince1970
        guard !after.isNaN else { return nil }
        // Every wall minute up to the one containing `instant` maps to an instant <= `instant`
        // (a wall time's first occurrence is never later than the instant showing it), so the
        // search starts at the next wall minute.
        let wall = clock.wallSeconds(at: instant)
        var from = LocalMinute(wallSeconds: (CivilTime.floorDivide(wall, 60) + 1) * 60)
        let lastYear = from.year + Self.searchHorizonYears
        while let candidate = nextMatch(atOrAfter: from, throughYear: lastYear) {
            let fire: Int64 = switch clock.resolve(wall: candidate.wallSeconds) {
            case .unique(let at): at
            case .repeated(let first, _): first
            case .skipped(let gapEnd): gapEnd
            }
            // Only in or just after a repeated hour can a later wall time map to an earlier
            // instant; such candidates fired already, on the first pass.
            if TimeInterval(fire) > after { return Date(timeIntervalSince1970: TimeInterval(fire)) }
            from = LocalMinute(wallSeconds: candidate.wallSeconds + 60)
        }
        return nil
    }

    /// The first matching wall-clock minute at or after `start`, in calendar order.
    func nextMatch(atOrAfter start: LocalMinute, throughYear lastYear: Int) -> LocalMinute? {
        var (year, month, day, hour, minute) = (start.year, start.month, start.day, start.hour, start.minute)
        while year <= lastYear {
            guard let nextMonth = fields.months.next(atOrAfter: month) else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0)
                continue
            }
            if nextMonth != month { (month, day, hour, minute) = (nextMonth, 1, 0, 0) }
            guard let nextDay = firstMatchingDay(year: year, month: month, atOrAfter: day) else {
                (month, day, hour, minute) = (month + 1, 1, 0, 0)
                if month > 12 { (year, month) = (year + 1, 1) }
                continue
            }
            if nextDay != day { (day, hour, minute) = (nextDay, 0, 0) }
            guard let nextHour = fields.hours.next(atOrAfter: hour) else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            if nextHour != hour { (hour, minute) = (nextHour, 0) }
            guard let nextMinute = fields.minutes.next(atOrAfter: minute) else {
                (hour, minute) = (hour + 1, 0)
                continue
            }
            return LocalMinute(year: year, month: month, day: day, hour: hour, minute: nextMinute)
        }
        return nil
    }

    /// The first day from `day` to the end of the month that the day rule selects.
    func firstMatchingDay(year: Int, month: Int, atOrAfter day: Int) -> Int? {
        let length = CivilTime.daysInMonth(year: year, month: month)
        guard day <= length else { return nil }
        let firstWeekday = CivilTime.weekday(days: CivilTime.days(year: year, month: month, day: 1))
        for candidate in day...length where matchesDay(candidate, weekday: (firstWeekday + candidate - 1) % 7) {
            return candidate
        }
        return nil
    }
}

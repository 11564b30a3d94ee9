import Foundation

/// Proleptic Gregorian day arithmetic on plain integers (Howard Hinnant's `days_from_civil` and
/// `civil_from_days`). The scheduling types count local wall-clock time with it so that stepping
/// through days, months and weekdays is a few integer operations instead of a `Calendar` call.
/// For every year after 1582 it agrees with `Calendar(identifier: .gregorian)`; the tests check
/// that it does.
enum CivilTime {
    /// Days since 1970-01-01 of a calendar date. `month` is 1-12, `day` 1-31.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The calendar date of a day counted from 1970-01-01.
    static func date(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Day of the week, 0 = Sunday ... 6 = Saturday (1970-01-01 was a Thursday).
    static func weekday(days: Int) -> Int {
        let w = (days + 4) % 7
        return w < 0 ? w + 7 : w
    }

    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// Number of days in a month of a given year.
    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Floor division, for splitting negative second counts into days.
    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// One local wall-clock minute: what a clock on the wall of the given time zone shows, with no
/// zone attached. Comparable in calendar order.
struct LocalMinute: Hashable, Comparable, Sendable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int

    /// The minute containing a wall-clock time given as seconds since 1970-01-01 00:00 local.
    init(wallSeconds: Int64) {
        let minutes = CivilTime.floorDivide(wallSeconds, 60)
        let days = CivilTime.floorDivide(minutes, 1440)
        let minuteOfDay = Int(minutes - days * 1440)
        (year, month, day) = CivilTime.date(days: Int(days))
        hour = minuteOfDay / 60
        minute = minuteOfDay % 60
    }

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        (self.year, self.month, self.day, self.hour, self.minute) = (year, month, day, hour, minute)
    }

    /// Seconds since 1970-01-01 00:00 local (the wall time read as if it were UTC).
    var wallSeconds: Int64 {
        (Int64(CivilTime.days(year: year, month: month, day: day)) * 1440 + Int64(hour * 60 + minute)) * 60
    }

    static func < (lhs: LocalMinute, rhs: LocalMinute) -> Bool {
        (lhs.year, lhs.month, lhs.day, lhs.hour, lhs.minute) < (rhs.year, rhs.month, rhs.day, rhs.hour, rhs.minute)
    }
}

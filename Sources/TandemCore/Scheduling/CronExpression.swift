import Foundation

/// A standard five-field cron schedule: `minute hour day-of-month month day-of-week`.
///
/// Each field takes `*`, numbers, lists (`1,15`), ranges (`1-5`) and steps (`*/15`, `10-50/20`,
/// and `5/10`, meaning from 5 to the end of the range). Months may be written `jan`-`dec` and
/// weekdays `sun`-`sat`, in any case; day-of-week 7 is Sunday like 0, and a range ending in the
/// name `sun` (`mon-sun`) runs through Sunday. The macros `@hourly`, `@daily`, `@midnight`,
/// `@weekly`, `@monthly`, `@yearly` and `@annually` stand for their usual expansions.
///
/// Days follow Vixie cron: when day-of-month and day-of-week are both restricted (neither field
/// starts with `*`), a day matches when *either* matches (`0 0 1 * mon` runs on the 1st and on
/// every Monday); otherwise both must match.
///
/// Everything is checked at parse time, including expressions that could never fire
/// (`0 0 30 2 *`), so a schedule that parses always has a next fire time within a few years.
///
/// The expression is evaluated in local wall-clock time of the zone handed to
/// ``nextFire(after:in:)``; see there for what happens at daylight-saving transitions.
///
/// Equality and hashing compare the schedule, not the text: `0 0 * * 7` equals `@weekly`.
/// ``description`` is the text as written (whitespace between fields normalized).
public struct CronExpression: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The parsed fields: what equality and hashing compare.
    struct Fields: Hashable, Sendable {
        var minutes: CronBits
        var hours: CronBits
        var daysOfMonth: CronBits
        var months: CronBits
        var daysOfWeek: CronBits
        /// The day-of-month field starts with `*` (it does not restrict days for the OR rule).
        var dayOfMonthIsWildcard: Bool
        /// The day-of-week field starts with `*`.
        var dayOfWeekIsWildcard: Bool
    }

    let fields: Fields

    /// The expression as written, with runs of whitespace reduced to one space.
    public let description: String

    static let macros: [String: String] = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    ]

    /// Parses and validates an expression.
    public init(_ text: String) throws(CronError) {
        let words = text.split(whereSeparator: \.isWhitespace)
        guard let first = words.first else { throw .empty }
        description = words.joined(separator: " ")
        var fieldTexts = words
        if first.hasPrefix("@") {
            guard words.count == 1, let expansion = Self.macros[first.lowercased()] else {
                throw words.count == 1 ? .unknownMacro(String(first)) : .wrongFieldCount(found: words.count)
            }
            fieldTexts = expansion.split(separator: " ")
        }
        guard fieldTexts.count == 5 else { throw .wrongFieldCount(found: fieldTexts.count) }
        fields = Fields(
            minutes: try CronFieldParser.parse(fieldTexts[0], as: .minute),
            hours: try CronFieldParser.parse(fieldTexts[1], as: .hour),
            daysOfMonth: try CronFieldParser.parse(fieldTexts[2], as: .dayOfMonth),
            months: try CronFieldParser.parse(fieldTexts[3], as: .month),
            daysOfWeek: try CronFieldParser.parse(fieldTexts[4], as: .dayOfWeek),
            dayOfMonthIsWildcard: fieldTexts[2].hasPrefix("*"),
            dayOfWeekIsWildcard: fieldTexts[4].hasPrefix("*"))
        try Self.checkSomeDayExists(fields)
    }

    /// Refuses day-of-month and month combinations that name no real date. Only the AND rule can
    /// starve: with the OR rule every selected weekday fires. Under the AND rule the weekday of any
    /// date cycles through all seven over the years, so one real (day, month) pair is enough.
    /// February counts as 29 days long: `0 0 29 2 *` fires in leap years.
    static func checkSomeDayExists(_ fields: Fields) throws(CronError) {
        if !fields.dayOfMonthIsWildcard && !fields.dayOfWeekIsWildcard { return }
        let months = fields.months.values
        let days = fields.daysOfMonth.values
        let longest = months.map { CivilTime.daysInMonth(year: 2000, month: $0) }.max() ?? 0
        guard let shortest = days.first, shortest > longest else { return }
        throw .neverFires(days: days, months: months)
    }

    public static func == (lhs: CronExpression, rhs: CronExpression) -> Bool {
        lhs.fields == rhs.fields
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(fields)
    }

    /// Whether the schedule selects a local wall-clock minute. `weekday` is 0 (Sunday) to 6.
    func matches(_ time: LocalMinute, weekday: Int) -> Bool {
        fields.months.contains(time.month) && matchesDay(time.day, weekday: weekday)
            && fields.hours.contains(time.hour) && fields.minutes.contains(time.minute)
    }

    /// Whether the schedule selects a day of a month it already selects (the Vixie rule).
    func matchesDay(_ day: Int, weekday: Int) -> Bool {
        let byDate = fields.daysOfMonth.contains(day)
        let byWeekday = fields.daysOfWeek.contains(weekday)
        if fields.dayOfMonthIsWildcard || fields.dayOfWeekIsWildcard { return byDate && byWeekday }
        return byDate || byWeekday
    }
}

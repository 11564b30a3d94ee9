import Foundation

/// One expected fire time: the first fire of `expression` in `zone` strictly after `after`.
struct CronReferenceRow: Sendable, CustomStringConvertible {
    let expression: String
    let zone: String
    /// ISO 8601, UTC.
    let after: String
    /// ISO 8601, UTC.
    let expected: String

    init(_ expression: String, _ zone: String, _ after: String, _ expected: String) {
        (self.expression, self.zone, self.after, self.expected) = (expression, zone, after, expected)
    }

    var description: String { "'\(expression)' in \(zone) after \(after)" }
}

/// Expected fire times produced by an independent oracle, Python's croniter 7.0.0 with
/// zoneinfo (`croniter(expression, start).get_next(datetime)`, the start a zone-aware datetime
/// with fold=0), then checked by hand. Where croniter's semantics differ from ours the row holds
/// our value and the comment above it says what croniter gives and why we differ: croniter fires a
/// repeated (fall-back) wall time on both passes, and applies the day-of-month/day-of-week OR rule
/// whenever neither field is exactly `*`. Each comment gives the expected local time.
///
/// Transitions covered: Europe/Berlin 2024-03-31 (02:00 CET -> 03:00 CEST, 01:00 UTC) and
/// 2024-10-27 (03:00 CEST -> 02:00 CET, 01:00 UTC); America/New_York 2024-03-10 (02:00 EST ->
/// 03:00 EDT, 07:00 UTC) and 2024-11-03 (02:00 EDT -> 01:00 EST, 06:00 UTC); Australia/Adelaide
/// (+09:30/+10:30) 2024-04-07 and 2024-10-06.
enum CronReferenceTable {
    typealias Row = CronReferenceRow

    static let rows: [Row] = [
        // 31st skips 30-day April; local 2024-05-31 00:00 UTC.
        Row("0 0 31 * *", "UTC", "2024-04-15T00:00:00Z", "2024-05-31T00:00:00Z"),
        // strictly after; February has no 31st; local 2024-03-31 00:00 UTC.
        Row("0 0 31 * *", "UTC", "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z"),
        // 31st skips September; local 2024-10-31 00:00 UTC.
        Row("0 0 31 * *", "UTC", "2024-08-31T00:00:30Z", "2024-10-31T00:00:00Z"),
        // 30th skips February; local 2023-03-30 00:00 UTC.
        Row("0 0 30 * *", "UTC", "2023-02-01T00:00:00Z", "2023-03-30T00:00:00Z"),
        // Feb 29 in leap year 2024; local 2024-02-29 12:00 UTC.
        Row("0 12 29 2 *", "UTC", "2023-01-01T00:00:00Z", "2024-02-29T12:00:00Z"),
        // next Feb 29 is 2028; local 2028-02-29 12:00 UTC.
        Row("0 12 29 2 *", "UTC", "2024-03-01T00:00:00Z", "2028-02-29T12:00:00Z"),
        // 2100 is not a leap year: 2104; local 2104-02-29 00:00 UTC.
        Row("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"),
        // non-leap February ends on the 28th; local 2024-02-28 00:00 UTC.
        Row("0 0 28-31 2 *", "UTC", "2023-02-28T00:00:00Z", "2024-02-28T00:00:00Z"),
        // year rollover; local 2025-12-31 23:59 UTC.
        Row("59 23 31 12 *", "UTC", "2024-12-31T23:59:00Z", "2025-12-31T23:59:00Z"),
        // strictly after an exact fire; local 2026-01-01 00:00 UTC.
        Row("0 0 1 1 *", "UTC", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
        // next whole minute; local 2024-06-01 12:01 UTC.
        Row("* * * * *", "UTC", "2024-06-01T12:00:30Z", "2024-06-01T12:01:00Z"),
        // OR rule: a Monday before the 1st; local 2024-05-06 00:00 UTC.
        Row("0 0 1 * mon", "UTC", "2024-05-02T00:00:00Z", "2024-05-06T00:00:00Z"),
        // OR rule: the 1st before a Monday; local 2024-07-01 00:00 UTC.
        Row("0 0 1 * mon", "UTC", "2024-06-25T00:00:00Z", "2024-07-01T00:00:00Z"),
        // OR rule: any Friday; local 2024-09-06 00:00 UTC.
        Row("0 0 13 * fri", "UTC", "2024-09-01T00:00:00Z", "2024-09-06T00:00:00Z"),
        // OR rule: the 15th; local 2024-02-15 04:30 UTC.
        Row("30 4 1,15 * 5", "UTC", "2024-02-10T00:00:00Z", "2024-02-15T04:30:00Z"),
        // DOM '*': weekday only; local 2024-05-06 00:00 UTC.
        Row("0 0 * * 1", "UTC", "2024-05-02T00:00:00Z", "2024-05-06T00:00:00Z"),
        // DOW '*': date only; local 2024-06-01 00:00 UTC.
        Row("0 0 1 * *", "UTC", "2024-05-02T00:00:00Z", "2024-06-01T00:00:00Z"),
        // 7 is Sunday; local 2024-05-05 09:00 UTC.
        Row("0 9 * * 7", "UTC", "2024-05-01T00:00:00Z", "2024-05-05T09:00:00Z"),
        // 0 is Sunday; local 2024-05-05 09:00 UTC.
        Row("0 9 * * 0", "UTC", "2024-05-01T00:00:00Z", "2024-05-05T09:00:00Z"),
        // range through 7; local 2024-05-10 09:00 UTC.
        Row("0 9 * * 5-7", "UTC", "2024-05-05T10:00:00Z", "2024-05-10T09:00:00Z"),
        // weekday name; local 2024-05-05 09:00 UTC.
        Row("0 9 * * sun", "UTC", "2024-05-01T00:00:00Z", "2024-05-05T09:00:00Z"),
        // upper-case weekday name; local 2024-05-04 22:00 UTC.
        Row("0 22 * * SAT", "UTC", "2024-05-01T00:00:00Z", "2024-05-04T22:00:00Z"),
        // Friday evening to Monday 09:00; local 2024-05-06 09:00 UTC.
        Row("*/15 9-17 * * mon-fri", "UTC", "2024-05-03T17:50:00Z", "2024-05-06T09:00:00Z"),
        // next quarter hour; local 2024-05-06 10:15 UTC.
        Row("*/15 9-17 * * mon-fri", "UTC", "2024-05-06T10:07:00Z", "2024-05-06T10:15:00Z"),
        // month names list; local 2024-07-01 00:00 UTC.
        Row("0 0 1 jan,jul *", "UTC", "2024-02-01T00:00:00Z", "2024-07-01T00:00:00Z"),
        // month name range with step; local 2024-03-01 06:00 UTC.
        Row("0 6 1 Jan-Mar/2 *", "UTC", "2024-01-05T00:00:00Z", "2024-03-01T06:00:00Z"),
        // a/n runs to the end of the range; local 2024-05-01 11:05 UTC.
        Row("5/20 * * * *", "UTC", "2024-05-01T10:46:00Z", "2024-05-01T11:05:00Z"),
        // a-b/n; local 2024-05-01 10:50 UTC.
        Row("10-50/20 * * * *", "UTC", "2024-05-01T10:31:00Z", "2024-05-01T10:50:00Z"),
        // a-b/n wraps to next hour; local 2024-05-01 11:10 UTC.
        Row("10-50/20 * * * *", "UTC", "2024-05-01T10:51:00Z", "2024-05-01T11:10:00Z"),
        // hour step wraps to next day; local 2024-05-02 00:00 UTC.
        Row("0 */6 * * *", "UTC", "2024-05-01T19:00:00Z", "2024-05-02T00:00:00Z"),
        // monthly, year rollover; local 2025-01-01 14:15 UTC.
        Row("15 14 1 * *", "UTC", "2024-12-01T14:15:00Z", "2025-01-01T14:15:00Z"),
        // weekdays range; local 2024-05-06 00:00 UTC.
        Row("0 0 * * 1-5", "UTC", "2024-05-03T12:00:00Z", "2024-05-06T00:00:00Z"),
        // weekday list; local 2024-05-03 12:00 UTC.
        Row("0 12 * * 1,3,5", "UTC", "2024-05-01T12:00:00Z", "2024-05-03T12:00:00Z"),
        // macro; local 2024-05-01 11:00 UTC.
        Row("@hourly", "UTC", "2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z"),
        // macro; local 2024-05-02 00:00 UTC.
        Row("@daily", "UTC", "2024-05-01T10:00:00Z", "2024-05-02T00:00:00Z"),
        // macro; local 2024-05-02 00:00 UTC.
        Row("@midnight", "UTC", "2024-05-01T10:00:00Z", "2024-05-02T00:00:00Z"),
        // macro: Sunday 00:00; local 2024-05-05 00:00 UTC.
        Row("@weekly", "UTC", "2024-05-01T10:00:00Z", "2024-05-05T00:00:00Z"),
        // macro; local 2024-06-01 00:00 UTC.
        Row("@monthly", "UTC", "2024-05-01T10:00:00Z", "2024-06-01T00:00:00Z"),
        // macro; local 2025-01-01 00:00 UTC.
        Row("@yearly", "UTC", "2024-05-01T10:00:00Z", "2025-01-01T00:00:00Z"),
        // macro; local 2025-01-01 00:00 UTC.
        Row("@annually", "UTC", "2024-05-01T10:00:00Z", "2025-01-01T00:00:00Z"),
        // OR rule keeps Feb 29 + Mondays in Feb; local 2025-02-03 00:00 UTC.
        Row("0 0 29 2 mon", "UTC", "2025-01-01T00:00:00Z", "2025-02-03T00:00:00Z"),
        // spring gap: fires at 03:00 CEST; local 2024-03-31 03:00 CEST.
        Row("30 2 * * *", "Europe/Berlin", "2024-03-30T11:00:00Z", "2024-03-31T01:00:00Z"),
        // after the gap fire: next day; local 2024-04-01 02:30 CEST.
        Row("30 2 * * *", "Europe/Berlin", "2024-03-31T01:00:00Z", "2024-04-01T00:30:00Z"),
        // gap start time; local 2024-03-31 03:00 CEST.
        Row("0 2 * * *", "Europe/Berlin", "2024-03-30T11:00:00Z", "2024-03-31T01:00:00Z"),
        // 03:00 exists once; local 2024-03-31 03:00 CEST.
        Row("0 3 * * *", "Europe/Berlin", "2024-03-30T11:00:00Z", "2024-03-31T01:00:00Z"),
        // gap times collapse into 03:00 CEST; local 2024-03-31 03:00 CEST.
        Row("*/15 * * * *", "Europe/Berlin", "2024-03-31T00:50:00Z", "2024-03-31T01:00:00Z"),
        // after the collapsed fire; local 2024-03-31 03:15 CEST.
        Row("*/15 * * * *", "Europe/Berlin", "2024-03-31T01:00:00Z", "2024-03-31T01:15:00Z"),
        // fall-back: first occurrence (CEST); local 2024-10-27 02:30 CEST.
        Row("30 2 * * *", "Europe/Berlin", "2024-10-26T22:00:00Z", "2024-10-27T00:30:00Z"),
        // fall-back: not again at 02:30 CET.
        // Differs from croniter 7.0.0, which gives 2024-10-27T01:30:00Z (02:30 CET, the second occurrence);
        // we fire only the first occurrence.
        Row("30 2 * * *", "Europe/Berlin", "2024-10-27T00:30:00Z", "2024-10-28T01:30:00Z"),
        // repeated hour is silent.
        // Differs from croniter 7.0.0, which gives 2024-10-27T01:00:00Z (02:00 CET, a repeat of 02:00 CEST);
        // we fire only first occurrences, next is 03:00 CET.
        Row("*/30 * * * *", "Europe/Berlin", "2024-10-27T00:45:00Z", "2024-10-27T02:00:00Z"),
        // 09:00 CEST after the switch; local 2024-03-31 09:00 CEST.
        Row("0 9 * * *", "Europe/Berlin", "2024-03-30T09:00:00Z", "2024-03-31T07:00:00Z"),
        // spring gap: fires at 03:00 EDT; local 2024-03-10 03:00 EDT.
        Row("30 2 * * *", "America/New_York", "2024-03-09T17:00:00Z", "2024-03-10T07:00:00Z"),
        // gap collapses into 03:00 EDT; local 2024-03-10 03:00 EDT.
        Row("*/15 * * * *", "America/New_York", "2024-03-10T06:50:00Z", "2024-03-10T07:00:00Z"),
        // after the collapsed fire; local 2024-03-10 03:15 EDT.
        Row("*/15 * * * *", "America/New_York", "2024-03-10T07:00:00Z", "2024-03-10T07:15:00Z"),
        // fall-back: 01:30 EDT; local 2024-11-03 01:30 EDT.
        Row("30 1 * * *", "America/New_York", "2024-11-02T16:00:00Z", "2024-11-03T05:30:00Z"),
        // fall-back: not at 01:30 EST; next day.
        // Differs from croniter 7.0.0, which gives 2024-11-03T06:30:00Z (01:30 EST, the second occurrence);
        // we fire only the first occurrence.
        Row("30 1 * * *", "America/New_York", "2024-11-03T05:30:00Z", "2024-11-04T06:30:00Z"),
        // hourly skips the repeated 01:00 EST.
        // Differs from croniter 7.0.0, which gives 2024-11-03T06:00:00Z (01:00 EST, a repeat);
        // we go on at 02:00 EST.
        Row("0 * * * *", "America/New_York", "2024-11-03T05:00:00Z", "2024-11-03T07:00:00Z"),
        // 09:00 EDT after the switch; local 2024-03-10 09:00 EDT.
        Row("0 9 * * *", "America/New_York", "2024-03-09T15:00:00Z", "2024-03-10T13:00:00Z"),
        // monthly across fall-back; local 2024-11-01 00:00 EDT.
        Row("0 0 1 * *", "America/New_York", "2024-10-15T04:00:00Z", "2024-11-01T04:00:00Z"),
        // +05:30 midnight; local 2024-06-02 00:00 IST.
        Row("0 0 * * *", "Asia/Kolkata", "2024-05-31T23:59:00Z", "2024-06-01T18:30:00Z"),
        // +05:30; local 2024-06-02 05:30 IST.
        Row("30 5 * * *", "Asia/Kolkata", "2024-06-01T00:00:00Z", "2024-06-02T00:00:00Z"),
        // +05:30 day rollover; local 2024-06-02 00:00 IST.
        Row("*/45 * * * *", "Asia/Kolkata", "2024-06-01T18:20:00Z", "2024-06-01T18:30:00Z"),
        // +09:30 -> +10:30 gap: 03:00 ACDT; local 2024-10-06 03:00 ACDT.
        Row("30 2 * * *", "Australia/Adelaide", "2024-10-05T02:30:00Z", "2024-10-05T16:30:00Z"),
        // +10:30 -> +09:30: first 02:30 (ACDT); local 2024-04-07 02:30 ACDT.
        Row("30 2 * * *", "Australia/Adelaide", "2024-04-06T01:30:00Z", "2024-04-06T16:00:00Z"),
        // not again at 02:30 ACST.
        // Differs from croniter 7.0.0, which gives 2024-04-06T17:00:00Z (02:30 ACST, the second occurrence);
        // we fire only the first occurrence.
        Row("30 2 * * *", "Australia/Adelaide", "2024-04-06T16:00:00Z", "2024-04-07T17:00:00Z"),
        // +10:30 new year; local 2025-01-01 00:00 ACDT.
        Row("0 0 1 * *", "Australia/Adelaide", "2024-12-30T13:30:00Z", "2024-12-31T13:30:00Z"),
        // Friday to Monday in +09:00; local 2024-05-06 12:00 JST.
        Row("0 12 * * mon-fri", "Asia/Tokyo", "2024-05-03T03:00:00Z", "2024-05-06T03:00:00Z"),
        // DOM starts with '*': AND rule (1st/11th/21st/31st that is a Monday).
        // Differs from croniter 7.0.0, which gives 2024-05-06T00:00:00Z
        // (it applies the OR rule unless a field is exactly '*');
        // Vixie cron and we apply AND when a field starts with '*'.
        Row("0 0 */10 * mon", "UTC", "2024-05-02T00:00:00Z", "2024-07-01T00:00:00Z"),
        // repeated hour is silent for every field.
        // Differs from croniter 7.0.0, which gives 2024-11-03T06:00:00Z (01:00 EST, a repeat);
        // we go on at 02:00 EST.
        Row("*/15 * * * *", "America/New_York", "2024-11-03T05:50:00Z", "2024-11-03T07:00:00Z"),
        // +05:30, Feb 29 of a leap year; local 2024-02-29 23:45 IST.
        Row("45 23 * * *", "Asia/Kolkata", "2024-02-28T18:20:00Z", "2024-02-29T18:15:00Z"),
    ]
}

import Foundation
import Testing
@testable import TandemCore

@Suite struct CronTests {
    static func zone(_ name: String) -> TimeZone { TimeZone(identifier: name)! }
    static func instant(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    // MARK: Reference table

    @Test func referenceTableIsLargeEnough() {
        #expect(CronReferenceTable.rows.count >= 60)
    }

    @Test(arguments: CronReferenceTable.rows)
    func referenceTable(_ row: CronReferenceRow) throws {
        let expression = try CronExpression(row.expression)
        let fire = expression.nextFire(after: Self.instant(row.after), in: Self.zone(row.zone))
        #expect(fire == Self.instant(row.expected), "\(row)")
    }

    // MARK: Parsing

    static let refusals: [(String, String)] = [
        ("61 * * * *", "minute field '61' is out of range 0-59"),
        ("* 24 * * *", "hour field '24' is out of range 0-23"),
        ("* * 0 * *", "day-of-month field '0' is out of range 1-31"),
        ("* * * 13 *", "month field '13' is out of range 1-12"),
        ("* * * * 8", "day-of-week field '8' is out of range 0-7"),
        ("1-61 * * * *", "minute field '61' is out of range 0-59"),
        ("0 0 * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 6"),
        ("0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 4"),
        ("", "empty cron expression"),
        ("*/0 * * * *", "minute field '*/0' has a step of 0"),
        ("0 1-10/0 * * *", "hour field '1-10/0' has a step of 0"),
        ("*/x * * * *", "minute field '*/x' has an invalid step"),
        ("1/2/3 * * * *", "minute field '1/2/3' has an invalid step"),
        ("0 0 * foo *", "month field 'foo' is not a month name (jan-dec)"),
        ("0 0 * * funday", "day-of-week field 'funday' is not a weekday name (sun-sat)"),
        ("0 0 * * monday", "day-of-week field 'monday' is not a weekday name"),
        ("abc * * * *", "minute field 'abc' is not a number"),
        ("0 5-2 * * *", "hour field range '5-2' is reversed"),
        ("0 0 * * sat-mon", "day-of-week field range 'sat-mon' is reversed"),
        ("1,,2 * * * *", "minute field '1,,2' has an empty list item"),
        ("1, * * * *", "minute field '1,' has an empty list item"),
        ("-5 * * * *", "minute field '-5' is not a number"),
        ("1-2-3 * * * *", "minute field '1-2-3' is not a number"),
        ("1.5 * * * *", "minute field '1.5' is not a number"),
        ("0 0 31 4 *", "never fires: day-of-month 31 does not occur in April"),
        ("0 0 30 2 *", "never fires: day-of-month 30 does not occur in February"),
        ("0 0 30,31 feb *", "never fires: day-of-month 30,31 does not occur in February"),
        ("0 0 31 4,6,9 *", "never fires: day-of-month 31 does not occur in April, June or September"),
        ("0 0 31 4 */2", "never fires: day-of-month 31 does not occur in April"),
        ("@reboot", "unknown cron macro '@reboot'"),
        ("@daily 5", "expected 5 fields"),
        ("9999999999 * * * *", "minute field '9999999999' is out of range 0-59"),
    ]

    @Test(arguments: refusals)
    func refusesWithClearMessage(_ text: String, _ message: String) {
        #expect {
            _ = try CronExpression(text)
        } throws: { error in
            guard let error = error as? CronError else { return false }
            return error.description.contains(message)
        }
    }

    @Test func refusalCasesNameTheField() {
        #expect(throws: CronError.outOfRange(field: .minute, text: "61")) { try CronExpression("61 * * * *") }
        #expect(throws: CronError.wrongFieldCount(found: 6)) { try CronExpression("0 0 * * * *") }
        #expect(throws: CronError.neverFires(days: [30], months: [2])) { try CronExpression("0 0 30 2 *") }
    }

    @Test(arguments: [
        "0 0 29 2 *",      // leap years only
        "0 0 31 2 mon",    // OR rule: every Monday in February
        "0 0 31 2,3 *",    // March 31st
        "0 0 */30 2 *",    // starts with '*': includes the 1st
        "0 0 * * mon-sun", // a named Sunday ends a range
    ])
    func acceptsExpressionsThatFire(_ text: String) throws {
        let expression = try CronExpression(text)
        #expect(expression.nextFire(after: Self.instant("2025-01-01T00:00:00Z"), in: Self.zone("UTC")) != nil)
    }

    @Test func equalityComparesTheSchedule() throws {
        #expect(try CronExpression("0 0 * * 7") == CronExpression("@weekly"))
        #expect(try CronExpression("0 0 * * sun").hashValue == CronExpression("0 0 * * 0").hashValue)
        #expect(try CronExpression("@DAILY") == CronExpression("0 0 * * *"))
        #expect(try CronExpression("0 0 * * mon-sun") == CronExpression("0 0 * * 0-6"))
        // The OR rule makes a restricted 1-31 differ from '*' when the weekday is restricted too.
        #expect(try CronExpression("0 0 1-31 * mon") != CronExpression("0 0 * * mon"))
        #expect(try CronExpression("  */5\t1  * *   * ").description == "*/5 1 * * *")
        #expect(try CronExpression("@weekly").description == "@weekly")
    }

    @Test func weekdaySevenAndNamesAreSunday() throws {
        let fields = try CronExpression("0 0 * * 7").fields
        #expect(fields.daysOfWeek.values == [0])
        #expect(try CronExpression("0 0 * * 5-7").fields.daysOfWeek.values == [0, 5, 6])
        #expect(try CronExpression("0 0 * * */2").fields.daysOfWeek.values == [0, 2, 4, 6])
        #expect(try CronExpression("0 0 * Jan-mar/2 *").fields.months.values == [1, 3])
        #expect(try CronExpression("5/20 * * * *").fields.minutes.values == [5, 25, 45])
    }

    // MARK: Daylight-saving behaviour over a whole year

    @Test(arguments: ["Europe/Berlin", "America/New_York", "Australia/Adelaide", "Australia/Lord_Howe"])
    func dailyJobRunsOnceEveryDay(zoneName: String) throws {
        let zone = Self.zone(zoneName)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        for text in ["30 2 * * *", "0 2 * * *", "59 1 * * *", "15 3 * * *"] {
            let expression = try CronExpression(text)
            var at = Self.instant("2023-12-31T12:00:00Z")
            var days: [DateComponents] = []
            while let fire = expression.nextFire(after: at, in: zone), fire < Self.instant("2025-01-02T00:00:00Z") {
                #expect(fire > at)
                let day = calendar.dateComponents([.year, .month, .day], from: fire)
                if day.year == 2024 { days.append(day) }
                at = fire
            }
            // One fire on each local day of 2024 (a leap year), none twice and none skipped.
            #expect(days.count == 366, "\(text) in \(zoneName)")
            #expect(Set(days).count == days.count, "\(text) in \(zoneName)")
        }
    }

    @Test func gapFiresCollapseAndRepeatedHourIsSilent() throws {
        let berlin = Self.zone("Europe/Berlin")
        let everyQuarter = try CronExpression("*/15 * * * *")
        var fires: [Date] = []
        var at = Self.instant("2024-03-31T00:40:00Z") // 01:40 CET
        for _ in 0..<4 {
            at = try #require(everyQuarter.nextFire(after: at, in: berlin))
            fires.append(at)
        }
        // 01:45 CET, then 02:00-02:45 (skipped) and 03:00 CEST collapse into one fire, then 03:15.
        #expect(fires == ["2024-03-31T00:45:00Z", "2024-03-31T01:00:00Z", "2024-03-31T01:15:00Z",
                          "2024-03-31T01:30:00Z"].map(Self.instant))
        // Fall-back: 02:00-02:45 CEST fire; the repeated 02:00-02:45 CET pass is silent.
        at = Self.instant("2024-10-27T00:40:00Z") // 02:40 CEST
        fires = []
        for _ in 0..<3 {
            at = try #require(everyQuarter.nextFire(after: at, in: berlin))
            fires.append(at)
        }
        #expect(fires == ["2024-10-27T00:45:00Z", "2024-10-27T02:00:00Z", "2024-10-27T02:15:00Z"].map(Self.instant))
    }

    @Test func nextFireIsStrictlyAfterAndOnWholeMinutes() throws {
        let expression = try CronExpression("* * * * *")
        let utc = Self.zone("UTC")
        let exact = Self.instant("2024-06-01T12:00:00Z")
        #expect(expression.nextFire(after: exact, in: utc) == exact.addingTimeInterval(60))
        #expect(expression.nextFire(after: exact.addingTimeInterval(-0.25), in: utc) == exact)
        #expect(expression.nextFire(after: exact.addingTimeInterval(59.999), in: utc) == exact.addingTimeInterval(60))
        // Before 1970 too.
        let old = Self.instant("1969-12-31T23:59:30Z")
        #expect(expression.nextFire(after: old, in: utc) == Self.instant("1970-01-01T00:00:00Z"))
    }

    @Test func searchIsFast() throws {
        let expressions = try ["0 0 29 2 *", "*/7 3-5 13 * fri", "0 0 1 1 *", "30 2 * * *", "59 23 31 12 *",
                               "0 0 31 * *", "0 12 * * mon-fri"].map(CronExpression.init)
        let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Adelaide"].map(Self.zone)
        var at = Self.instant("2024-01-01T00:00:00Z")
        let clock = ContinuousClock()
        var calls = 0
        let elapsed = clock.measure {
            for step in 0..<250 {
                at = at.addingTimeInterval(86_400 * 3.3)
                for expression in expressions {
                    _ = expression.nextFire(after: at, in: zones[step % zones.count])
                    calls += 1
                }
            }
        }
        let average = elapsed / calls
        // Typically a few microseconds (well under 1 ms even in debug builds); the bound is loose
        // because CI machines are busy.
        #expect(average < .milliseconds(1), "average \(average)")
    }
}

// MARK: Property test: the search against brute force

/// SplitMix64, so the random cases are the same on every run and platform.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension CronTests {
    static let propertyZones = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Adelaide",
                                "Australia/Lord_Howe", "Pacific/Chatham", "America/Sao_Paulo", "Asia/Kathmandu"]

    /// A random field: '*', a value, a range, steps, a list, sometimes names.
    static func randomField(_ field: CronField, _ random: inout SplitMix) -> String {
        let low = field.bounds.lowerBound, high = field.bounds.upperBound
        func value() -> String {
            let number = Int.random(in: low...high, using: &random)
            if field == .month, Bool.random(using: &random) { return CronFieldParser.monthNames[number - 1] }
            if field == .dayOfWeek, number < 7, Bool.random(using: &random) { return CronFieldParser.weekdayNames[number] }
            return String(number)
        }
        func range() -> String {
            let a = Int.random(in: low...high, using: &random), b = Int.random(in: low...high, using: &random)
            return "\(min(a, b))-\(max(a, b))"
        }
        let step = Int.random(in: 1...(high / 2 + 1), using: &random)
        switch Int.random(in: 0..<8, using: &random) {
        case 0, 1: return "*"
        case 2: return "*/\(step)"
        case 3: return value()
        case 4: return range()
        case 5: return "\(range())/\(step)"
        case 6: return "\(Int.random(in: low...high, using: &random))/\(step)"
        default: return (0..<Int.random(in: 2...3, using: &random)).map { _ in value() }.joined(separator: ",")
        }
    }

    /// A wall time read through `Calendar`, independent of the core's own day arithmetic.
    struct Reader {
        let calendar: Calendar
        let utcCalendar: Calendar
        let zone: TimeZone

        init(_ zone: TimeZone) {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            (self.calendar, self.utcCalendar, self.zone) = (calendar, utc, zone)
        }

        static let units: Set<Calendar.Component> = [.year, .month, .day, .hour, .minute, .weekday]

        func matches(_ expression: CronExpression, _ c: DateComponents) -> Bool {
            let time = LocalMinute(year: c.year!, month: c.month!, day: c.day!, hour: c.hour!, minute: c.minute!)
            return expression.matches(time, weekday: c.weekday! - 1)
        }

        func wall(_ t: Date) -> DateComponents { calendar.dateComponents(Self.units, from: t) }

        /// Whether `t` shows a wall time already shown at an earlier instant (a fall-back repeat).
        func isRepeat(_ t: Date) -> Bool {
            let shown = wall(t)
            return [1800.0, 3600, 7200].contains { wall(t.addingTimeInterval(-$0)) == shown }
        }

        /// The wall minutes skipped just before `t`, if `t` ends a spring-forward gap.
        func skippedMinutes(before t: Date) -> [DateComponents] {
            let jump = zone.secondsFromGMT(for: t) - zone.secondsFromGMT(for: t.addingTimeInterval(-1))
            guard jump > 0 else { return [] }
            let gapStart = t.addingTimeInterval(TimeInterval(zone.secondsFromGMT(for: t.addingTimeInterval(-1))))
            return stride(from: 0, to: jump, by: 60).map {
                utcCalendar.dateComponents(Self.units, from: gapStart.addingTimeInterval(TimeInterval($0)))
            }
        }

        /// Brute force: whether the schedule fires at the whole-minute instant `t`.
        func fires(_ expression: CronExpression, at t: Date) -> Bool {
            (matches(expression, wall(t)) && !isRepeat(t)) || skippedMinutes(before: t).contains { matches(expression, $0) }
        }
    }

    @Test(arguments: 0..<8)
    func nextFireAgreesWithBruteForce(seed: UInt64) throws {
        var random = SplitMix(state: seed &* 7919 &+ 1)
        var bruteForced = 0
        for _ in 0..<60 {
            let text = CronField.allCases.map { Self.randomField($0, &random) }.joined(separator: " ")
            guard let expression = try? CronExpression(text) else { continue }
            let zone = Self.zone(Self.propertyZones.randomElement(using: &random)!)
            let reader = Reader(zone)
            // Half the instants fall within two days of an offset change.
            var after = Date(timeIntervalSince1970: Double.random(in: 946_684_800...2_208_988_800, using: &random))
            if Bool.random(using: &random), let change = zone.nextDaylightSavingTimeTransition(after: after) {
                after = change.addingTimeInterval(Double.random(in: -172_800...172_800, using: &random))
            }
            let fire = try #require(expression.nextFire(after: after, in: zone), "\(text) in \(zone.identifier)")
            #expect(fire > after, "\(text)")
            #expect(fire.timeIntervalSince1970.truncatingRemainder(dividingBy: 60) == 0, "\(text)")
            #expect(reader.fires(expression, at: fire), "\(text) in \(zone.identifier) after \(after): \(fire)")
            guard fire.timeIntervalSince(after) <= 3 * 86_400 else { continue }
            bruteForced += 1
            var minute = Date(timeIntervalSince1970: (after.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
            while minute < fire {
                #expect(!reader.fires(expression, at: minute),
                        "\(text) in \(zone.identifier) after \(after): fires at \(minute), before \(fire)")
                minute.addTimeInterval(60)
            }
        }
        #expect(bruteForced > 0)
    }

    /// Dense schedules near transitions, where brute force is cheap and the gaps matter most.
    @Test(arguments: ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo"])
    func denseSchedulesAroundTransitions(zoneName: String) throws {
        let zone = Self.zone(zoneName)
        let reader = Reader(zone)
        let expressions = try ["*/15 * * * *", "*/7 * * * *", "0 * * * *", "30 * * * *", "10-20 0-3 * * *",
                               "* 2 * * *", "45 1 * * *", "0 0 * * *"].map(CronExpression.init)
        var change = Self.instant("2014-01-01T00:00:00Z")
        for _ in 0..<4 {
            guard let next = zone.nextDaylightSavingTimeTransition(after: change) else { break }
            change = next
            for expression in expressions {
                var at = change.addingTimeInterval(-4 * 3600)
                while at < change.addingTimeInterval(4 * 3600) {
                    let fire = try #require(expression.nextFire(after: at, in: zone))
                    var minute = Date(timeIntervalSince1970: (at.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
                    while minute < fire {
                        #expect(!reader.fires(expression, at: minute), "\(expression) at \(minute)")
                        minute.addTimeInterval(60)
                    }
                    #expect(reader.fires(expression, at: fire), "\(expression) at \(fire)")
                    at = fire
                }
            }
        }
    }

    @Test func civilArithmeticAgreesWithCalendar() {
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        // From 1600 on: before 1582 Foundation's Gregorian calendar switches to the Julian one.
        for day in stride(from: -135_140, through: 400_000, by: 997) {
            let c = utc.dateComponents([.year, .month, .day, .weekday], from: Date(timeIntervalSince1970: Double(day) * 86_400))
            let date = CivilTime.date(days: day)
            #expect(date.year == c.year && date.month == c.month && date.day == c.day, "day \(day)")
            #expect(CivilTime.days(year: date.year, month: date.month, day: date.day) == day)
            #expect(CivilTime.weekday(days: day) == c.weekday! - 1)
        }
    }

    @Test func zoneClockResolvesGapsAndRepeats() {
        let clock = ZoneClock(timeZone: Self.zone("Europe/Berlin"))
        let gapWall = LocalMinute(year: 2024, month: 3, day: 31, hour: 2, minute: 30).wallSeconds
        #expect(clock.resolve(wall: gapWall) == .skipped(gapEnd: 1_711_846_800))  // 01:00 UTC
        let repeatWall = LocalMinute(year: 2024, month: 10, day: 27, hour: 2, minute: 30).wallSeconds
        #expect(clock.resolve(wall: repeatWall) == .repeated(first: 1_729_989_000, second: 1_729_992_600))
        let plainWall = LocalMinute(year: 2024, month: 7, day: 1, hour: 12, minute: 0).wallSeconds
        #expect(clock.resolve(wall: plainWall) == .unique(1_719_828_000))
    }
}

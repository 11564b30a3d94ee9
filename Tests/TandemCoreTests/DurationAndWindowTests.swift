import Foundation
import Testing
@testable import TandemCore

@Suite struct DurationAndWindowTests {
    static func zone(_ name: String) -> TimeZone { TimeZone(identifier: name)! }
    static func instant(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    // MARK: Durations

    @Test(arguments: [
        ("15m", 900.0), ("1h30m", 5400), ("90s", 90), ("2d", 172_800), ("1w", 604_800), ("1w2d3h4m5s", 788_645),
        ("1h 30m", 5400), (" 45s ", 45), ("0h5m", 300), ("36500d", 3_153_600_000), ("120m", 7200),
    ])
    func parsesDurations(_ text: String, _ seconds: TimeInterval) throws {
        #expect(try IntervalText.parseDuration(text) == seconds)
    }

    @Test(arguments: [
        ("", "empty duration"),
        ("   ", "empty duration"),
        ("0s", "duration '0s' is zero"),
        ("0h0m", "is zero"),
        ("-5m", "duration '-5m' is negative"),
        ("5y", "unknown unit 'y'"),
        ("5min", "unknown unit 'min'"),
        ("5ms", "unknown unit 'ms'"),
        ("5H", "unknown unit 'H'"),
        ("15", "15 has no unit"),
        ("1.5h", "has a fraction"),
        ("30m1h", "largest first"),
        ("1h1h", "largest first"),
        ("h", "unexpected 'h'"),
        ("+5m", "unexpected '+'"),
        ("36501d", "too large"),
        ("99999999999999999999s", "too large"),
        ("15250674w", "too large"),
    ])
    func refusesBadDurations(_ text: String, _ message: String) {
        #expect {
            _ = try IntervalText.parseDuration(text)
        } throws: { error in
            (error as? DurationError)?.description.contains(message) == true
        }
    }

    @Test func formatsShortestText() {
        #expect(IntervalText.formatDuration(5400) == "1h30m")
        #expect(IntervalText.formatDuration(90) == "1m30s")
        #expect(IntervalText.formatDuration(172_800) == "2d")
        #expect(IntervalText.formatDuration(694_800) == "1w1d1h")
        #expect(IntervalText.formatDuration(59.9) == "59s")
        #expect(IntervalText.formatDuration(0.5) == "0s")
        #expect(IntervalText.formatDuration(-3) == "0s")
    }

    @Test func formatAndParseRoundTrip() throws {
        var random = SplitMix(state: 42)
        for _ in 0..<2000 {
            let seconds = Int64.random(in: 1...IntervalText.maximumSeconds, using: &random) >> Int.random(in: 0...30, using: &random)
            let text = IntervalText.formatDuration(TimeInterval(max(seconds, 1)))
            #expect(try IntervalText.parseSeconds(text) == max(seconds, 1), "\(text)")
        }
    }

    // MARK: Time windows

    @Test func parsesAndPrintsWindows() throws {
        let night = try TimeWindow(parsing: "22:00-06:00")
        #expect(night.startMinute == 1320 && night.endMinute == 360 && night.crossesMidnight)
        #expect(night.description == "22:00-06:00")
        #expect(try TimeWindow(parsing: " 01:30 - 05:15 ").description == "01:30-05:15")
        #expect(try TimeWindow(parsing: "00:00-24:00") == .always)
        #expect(try TimeWindow(parsing: "00:00-00:00").isAlways)
        #expect(try TimeWindow(parsing: "23:00-24:00").endMinute == 1440)
        #expect(try TimeWindow(startMinute: 60, endMinute: 120).description == "01:00-02:00")
    }

    @Test(arguments: [
        ("22-06", "is not HH:MM-HH:MM"), ("22:00", "is not HH:MM-HH:MM"), ("25:00-06:00", "is not HH:MM-HH:MM"),
        ("22:60-06:00", "is not HH:MM-HH:MM"), ("2:00-06:00", "is not HH:MM-HH:MM"), ("24:30-06:00", "is not HH:MM-HH:MM"),
        ("22:00-06:00-07:00", "is not HH:MM-HH:MM"), ("", "is not HH:MM-HH:MM"),
        ("24:00-06:00", "starts at 24:00"), ("06:00-06:00", "starts and ends at the same time"),
    ])
    func refusesBadWindows(_ text: String, _ message: String) {
        #expect {
            _ = try TimeWindow(parsing: text)
        } throws: { error in
            (error as? TimeWindowError)?.description.contains(message) == true
        }
    }

    @Test func codableAsText() throws {
        let data = try JSONEncoder().encode([try TimeWindow(parsing: "22:00-06:00")])
        #expect(String(decoding: data, as: UTF8.self) == #"["22:00-06:00"]"#)
        #expect(try JSONDecoder().decode([TimeWindow].self, from: data) == [try TimeWindow(parsing: "22:00-06:00")])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([TimeWindow].self, from: Data(#"["22:00"]"#.utf8)) }
    }

    @Test func containsAcrossMidnight() throws {
        let night = try TimeWindow(parsing: "22:00-06:00")
        let utc = Self.zone("UTC")
        #expect(night.contains(Self.instant("2024-05-01T22:00:00Z"), in: utc))
        #expect(night.contains(Self.instant("2024-05-01T23:59:59Z"), in: utc))
        #expect(night.contains(Self.instant("2024-05-02T00:00:00Z"), in: utc))
        #expect(night.contains(Self.instant("2024-05-02T05:59:59Z"), in: utc))
        #expect(!night.contains(Self.instant("2024-05-02T06:00:00Z"), in: utc))
        #expect(!night.contains(Self.instant("2024-05-01T21:59:59Z"), in: utc))
        #expect(!night.contains(Self.instant("2024-05-01T12:00:00Z"), in: utc))
        // Local time, not UTC: 22:00 in Kolkata is 16:30 UTC.
        #expect(night.contains(Self.instant("2024-05-01T16:30:00Z"), in: Self.zone("Asia/Kolkata")))
        #expect(!night.contains(Self.instant("2024-05-01T16:29:59Z"), in: Self.zone("Asia/Kolkata")))
        #expect(TimeWindow.always.contains(Self.instant("2024-05-01T12:00:00Z"), in: utc))
    }

    @Test func nextOpening() throws {
        let night = try TimeWindow(parsing: "22:00-06:00")
        let berlin = Self.zone("Europe/Berlin")
        let inside = Self.instant("2024-05-01T23:00:00Z")  // 01:00 CEST
        #expect(night.nextOpening(atOrAfter: inside, in: berlin) == inside)
        // 12:00 CEST -> 22:00 CEST the same day.
        #expect(night.nextOpening(atOrAfter: Self.instant("2024-05-01T10:00:00Z"), in: berlin)
                    == Self.instant("2024-05-01T20:00:00Z"))
        let morning = try TimeWindow(parsing: "01:00-05:00")
        // 06:00 CEST, after today's window: tomorrow 01:00 CEST.
        #expect(morning.nextOpening(atOrAfter: Self.instant("2024-05-01T04:00:00Z"), in: berlin)
                    == Self.instant("2024-05-01T23:00:00Z"))
        #expect(TimeWindow.always.nextOpening(atOrAfter: inside, in: berlin) == inside)
    }

    @Test func windowsAcrossDaylightSaving() throws {
        let berlin = Self.zone("Europe/Berlin")
        // Spring: 02:30 does not exist on 2024-03-31; the window opens at the end of the gap, 03:00 CEST.
        let window = try TimeWindow(parsing: "02:30-04:00")
        let opening = window.nextOpening(atOrAfter: Self.instant("2024-03-30T12:00:00Z"), in: berlin)
        #expect(opening == Self.instant("2024-03-31T01:00:00Z"))
        #expect(window.contains(opening, in: berlin))
        #expect(!window.contains(opening.addingTimeInterval(-1), in: berlin))
        // A window wholly inside the gap does not open that day.
        let swallowed = try TimeWindow(parsing: "02:10-02:40")
        #expect(swallowed.nextOpening(atOrAfter: Self.instant("2024-03-30T12:00:00Z"), in: berlin)
                    == Self.instant("2024-04-01T00:10:00Z"))  // 02:10 CEST on April 1st
        // Fall-back: the wall clock shows 02:00-03:00 twice on 2024-10-27; the window is open on both passes.
        let repeated = try TimeWindow(parsing: "02:15-02:45")
        #expect(repeated.nextOpening(atOrAfter: Self.instant("2024-10-26T12:00:00Z"), in: berlin)
                    == Self.instant("2024-10-27T00:15:00Z"))  // 02:15 CEST
        #expect(repeated.nextOpening(atOrAfter: Self.instant("2024-10-27T00:50:00Z"), in: berlin)
                    == Self.instant("2024-10-27T01:15:00Z"))  // 02:15 CET
        #expect(repeated.contains(Self.instant("2024-10-27T01:20:00Z"), in: berlin))
        // Clocks set back into the middle of a window reopen it at once: New York, 01:45 EDT -> 01:00 EST.
        let early = try TimeWindow(parsing: "00:30-01:30")
        #expect(early.nextOpening(atOrAfter: Self.instant("2024-11-03T05:45:00Z"), in: Self.zone("America/New_York"))
                    == Self.instant("2024-11-03T06:00:00Z"))
        // A night window keeps its wall-clock bounds: 7 hours long in spring-forward night, 9 in fall-back night.
        let night = try TimeWindow(parsing: "22:00-06:00")
        for (start, hours) in [("2024-03-30T21:00:00Z", 7.0), ("2024-10-26T20:00:00Z", 9.0)] {
            let open = night.nextOpening(atOrAfter: Self.instant(start).addingTimeInterval(-3600), in: berlin)
            #expect(open == Self.instant(start))
            var closes = open
            while night.contains(closes, in: berlin) { closes.addTimeInterval(900) }
            #expect(closes.timeIntervalSince(open) == hours * 3600)
        }
    }

    /// Every window with half-hour bounds between 00:00 and 04:00, from instants every 20 minutes
    /// around transitions, checked minute by minute.
    @Test(arguments: [("America/New_York", "2024-11-03T06:00:00Z"), ("Europe/Berlin", "2024-03-31T01:00:00Z"),
                      ("Australia/Lord_Howe", "2024-04-06T15:00:00Z"), ("America/Sao_Paulo", "2018-11-04T03:00:00Z")])
    func nextOpeningAroundTransitions(_ zoneName: String, _ change: String) throws {
        let zone = Self.zone(zoneName)
        let bounds = stride(from: 0, through: 240, by: 30)
        for start in bounds where start < 240 {
            for end in bounds where end != start && end > 0 {
                let window = try TimeWindow(startMinute: start, endMinute: end)
                for step in -12...12 {
                    let at = Self.instant(change).addingTimeInterval(Double(step) * 1200 + 7)
                    let opening = window.nextOpening(atOrAfter: at, in: zone)
                    #expect(window.contains(opening, in: zone), "\(window) in \(zoneName) after \(at)")
                    var probe = Date(timeIntervalSince1970: (at.timeIntervalSince1970 / 60).rounded(.up) * 60)
                    while probe < opening {
                        #expect(!window.contains(probe, in: zone), "\(window) in \(zoneName): open at \(probe)")
                        probe.addTimeInterval(60)
                    }
                }
            }
        }
    }

    /// For random windows, zones and instants: the opening is at or after the instant, the window is
    /// open there, and (checked minute by minute) not open at any earlier minute.
    @Test func nextOpeningIsTheFirstOpenInstant() throws {
        var random = SplitMix(state: 7)
        let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo"].map(Self.zone)
        for _ in 0..<300 {
            let start = Int.random(in: 0..<96, using: &random) * 15
            var end = Int.random(in: 1...96, using: &random) * 15
            if end == start { end = (start + 60) % 1440 + 1 }
            let window = try TimeWindow(startMinute: start, endMinute: end)
            let zone = zones.randomElement(using: &random)!
            var at = Date(timeIntervalSince1970: Double.random(in: 1_262_304_000...1_893_456_000, using: &random))
            if Bool.random(using: &random), let change = zone.nextDaylightSavingTimeTransition(after: at) {
                at = change.addingTimeInterval(Double.random(in: -86_400...86_400, using: &random))
            }
            let opening = window.nextOpening(atOrAfter: at, in: zone)
            #expect(opening >= at)
            #expect(window.contains(opening, in: zone), "\(window) in \(zone.identifier) after \(at)")
            var probe = Date(timeIntervalSince1970: (at.timeIntervalSince1970 / 60).rounded(.up) * 60)
            while probe < opening {
                #expect(!window.contains(probe, in: zone), "\(window) in \(zone.identifier): open at \(probe)")
                probe.addTimeInterval(60)
            }
        }
    }

    /// Messages say durations as people read them (a refusal once printed `0.508870946 seconds`).
    @Test(arguments: [
        (Duration.nanoseconds(508_870_946), "0.5 s"), (.milliseconds(6_849), "6.8 s"), (.zero, "0.0 s"), (.milliseconds(9_960), "10.0 s"),
        (.seconds(12), "12 s"), (.milliseconds(119_400), "119 s"), (.seconds(200), "3 min 20 s"), (.seconds(600), "10 min"),
    ])
    func durationsAreSpokenRounded(_ duration: Duration, _ text: String) {
        #expect(duration.spoken == text)
        #expect(TakeoverObjection.holderAlive(site: SiteID("a"), lastHeard: duration).description.contains(" \(text) ago"))
    }
}

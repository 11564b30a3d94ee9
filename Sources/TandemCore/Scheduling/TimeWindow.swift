import Foundation

/// A daily window of local wall-clock time, written `HH:MM-HH:MM`: `01:00-05:00`, or
/// `22:00-06:00`, which crosses midnight. `00:00-24:00` (or `00:00-00:00`) is open all day; 24:00
/// is only allowed as an end. The start is inside the window and the end is not.
///
/// The bounds are wall-clock times in the zone the caller passes, so the window keeps to the
/// clock on the wall across daylight-saving changes:
///
/// - ``contains(_:in:)`` reads the wall clock. In a repeated (fall-back) hour the window is open
///   on both passes if their wall time is inside it; a window that starts inside a skipped
///   (spring-forward) hour is open from the end of the gap.
/// - ``nextOpening(atOrAfter:in:)`` is the first instant from which ``contains(_:in:)`` holds.
///   When the start time does not exist that day, the window opens at the end of the gap,
///   provided it is still open then; a window lying wholly inside the gap (`02:10-02:40` in
///   Europe/Berlin on the last Sunday of March) does not open that day. When clocks are set back
///   into the middle of a window, it opens again at that moment (`00:30-01:30` in
///   America/New_York reopens at 01:00 EST on the first Sunday of November).
///
/// Encoded as its text, so configuration files hold `"22:00-06:00"`.
public struct TimeWindow: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// Start as minutes after local midnight, 0-1439.
    public let startMinute: Int
    /// End as minutes after local midnight, 1-1440; before ``startMinute`` when the window
    /// crosses midnight.
    public let endMinute: Int

    /// The window that is always open, `00:00-24:00`.
    public static let always = TimeWindow(uncheckedStart: 0, end: 1440)

    /// A window from minute `startMinute` to minute `endMinute` after local midnight.
    public init(startMinute: Int, endMinute: Int) throws(TimeWindowError) {
        guard (0..<1440).contains(startMinute), (1...1440).contains(endMinute) else {
            throw .outOfRange(text: "\(startMinute)-\(endMinute)")
        }
        guard startMinute != endMinute else { throw .emptyWindow(text: Self.text(startMinute, endMinute)) }
        self.init(uncheckedStart: startMinute, end: endMinute)
    }

    /// Parses `HH:MM-HH:MM`, with optional spaces around the dash.
    public init(parsing text: String) throws(TimeWindowError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2,
              let start = Self.minutes(parts[0].trimmingCharacters(in: .whitespaces)),
              let end = Self.minutes(parts[1].trimmingCharacters(in: .whitespaces))
        else { throw .malformed(text: trimmed) }
        guard start < 1440 else { throw .startAtEndOfDay(text: trimmed) }
        guard end > 0 || start == 0 else { throw .emptyWindow(text: trimmed) }
        // "00:00-00:00" is the one spelling of a full day that wraps; read it as 00:00-24:00.
        guard start != end || start == 0 else { throw .emptyWindow(text: trimmed) }
        self.init(uncheckedStart: start, end: end == 0 ? 1440 : end)
    }

    private init(uncheckedStart start: Int, end: Int) {
        startMinute = start
        endMinute = end
    }

    /// Whether the window is open all day.
    public var isAlways: Bool { endMinute - startMinute == 1440 }

    /// Whether the window crosses local midnight (`22:00-06:00`).
    public var crossesMidnight: Bool { endMinute < startMinute }

    /// The window as `HH:MM-HH:MM`.
    public var description: String { Self.text(startMinute, endMinute) }

    /// Whether the wall-clock time at `instant` in `timeZone` is inside the window.
    public func contains(_ instant: Date, in timeZone: TimeZone) -> Bool {
        if isAlways { return true }
        let wall = ZoneClock(timeZone: timeZone).wallSeconds(at: instant)
        return contains(secondOfDay: Int(wall - CivilTime.floorDivide(wall, 86_400) * 86_400))
    }

    func contains(secondOfDay second: Int) -> Bool {
        let start = startMinute * 60
        let end = endMinute * 60
        return crossesMidnight ? (second >= start || second < end) : (second >= start && second < end)
    }

    /// `instant` itself if the window is open then, otherwise the first later instant at which it
    /// opens (see the type's discussion for daylight-saving transitions).
    public func nextOpening(atOrAfter instant: Date, in timeZone: TimeZone) -> Date {
        if contains(instant, in: timeZone) { return instant }
        let clock = ZoneClock(timeZone: timeZone)
        let now = ZoneClock.wholeSeconds(instant)
        let today = CivilTime.floorDivide(clock.wallSeconds(at: now), 86_400)
        // Today's opening may still be ahead (or, after a fall-back, come round again); a gap can
        // swallow at most one day's window, and zones that skipped a whole day skip one more.
        for day in today...(today + 3) {
            let opening = day * 86_400 + Int64(startMinute) * 60
            let candidates: [Int64] = switch clock.resolve(wall: opening) {
            case .unique(let at): [at]
            case .repeated(let first, let second): [first, second]
            case .skipped(let gapEnd): contains(Date(timeIntervalSince1970: TimeInterval(gapEnd)), in: timeZone) ? [gapEnd] : []
            }
            if let first = candidates.first(where: { TimeInterval($0) > instant.timeIntervalSince1970 }) {
                // Clocks set back can also land inside the window without passing its start.
                if let change = clock.firstOffsetChange(after: now, through: first),
                   contains(Date(timeIntervalSince1970: TimeInterval(change)), in: timeZone) {
                    return Date(timeIntervalSince1970: TimeInterval(change))
                }
                return Date(timeIntervalSince1970: TimeInterval(first))
            }
        }
        // Unreachable for real zones; stay total rather than trap.
        return instant
    }

    /// `HH:MM` to minutes after midnight, allowing 24:00; nil if malformed.
    static func minutes(_ text: String) -> Int? {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 2, fields.allSatisfy({ $0.count == 2 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let hour = Int(fields[0]), let minute = Int(fields[1]), minute < 60,
              hour < 24 || (hour == 24 && minute == 0)
        else { return nil }
        return hour * 60 + minute
    }

    static func text(_ start: Int, _ end: Int) -> String {
        func clock(_ minutes: Int) -> String {
            let hour = minutes / 60, minute = minutes % 60
            return (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
        }
        return clock(start) + "-" + clock(end)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a time window text was refused.
public enum TimeWindowError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not `HH:MM-HH:MM` with hours 00-24 and minutes 00-59.
    case malformed(text: String)
    /// Minutes outside 0-1440 given to ``TimeWindow/init(startMinute:endMinute:)``.
    case outOfRange(text: String)
    /// A window starting at 24:00.
    case startAtEndOfDay(text: String)
    /// Start equal to end (other than `00:00-00:00`), which would be open never or always.
    case emptyWindow(text: String)

    public var description: String {
        switch self {
        case .malformed(let text):
            "time window '\(text)' is not HH:MM-HH:MM (24-hour local time, like 22:00-06:00)"
        case .outOfRange(let text):
            "time window minutes '\(text)' are out of range: start 0-1439, end 1-1440"
        case .startAtEndOfDay(let text):
            "time window '\(text)' starts at 24:00: start at 00:00 instead"
        case .emptyWindow(let text):
            "time window '\(text)' starts and ends at the same time: write 00:00-24:00 for always open"
        }
    }
}

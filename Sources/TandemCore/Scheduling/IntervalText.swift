import Foundation

/// Short human durations such as `90s`, `15m`, `1h30m`, `2d` and `1w`, as used for intervals
/// and timeouts in site configuration.
///
/// A duration is one or more `<number><unit>` parts with units `w` (7 days), `d` (24 hours),
/// `h`, `m` and `s`, largest unit first, each unit at most once, optionally separated by spaces:
/// `1w2d`, `1h 30m`. Days are always 86,400 seconds: a duration is elapsed time, not a calendar
/// step. Fractions, signs, zero and durations over ``maximumSeconds`` are refused.
public enum IntervalText {
    /// 100 years of 365 days: far beyond any sensible interval, far below any overflow.
    public static let maximumSeconds: Int64 = 36_500 * 86_400

    static let units: [(symbol: Character, seconds: Int64)] = [
        ("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1),
    ]

    /// The number of seconds a duration text stands for (always a positive whole number).
    public static func parseDuration(_ text: String) throws(DurationError) -> TimeInterval {
        TimeInterval(try parseSeconds(text))
    }

    /// Like ``parseDuration(_:)``, as an integer.
    public static func parseSeconds(_ text: String) throws(DurationError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw .empty }
        if trimmed.hasPrefix("-") { throw .negative(text: trimmed) }
        var total: Int64 = 0
        var lastUnit = -1
        var rest = Substring(trimmed)
        while let first = rest.first {
            if first == " " { rest = rest.drop(while: { $0 == " " }); continue }
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty else { throw .unexpectedCharacter(first, text: trimmed) }
            rest = rest.dropFirst(digits.count)
            if rest.first == "." || rest.first == "," { throw .fraction(text: trimmed) }
            let word = rest.prefix(while: { $0.isLetter })
            guard !word.isEmpty else {
                guard let next = rest.first, next != " " else { throw .missingUnit(number: String(digits), text: trimmed) }
                throw .unexpectedCharacter(next, text: trimmed)
            }
            guard word.count == 1, let index = units.firstIndex(where: { $0.symbol == word.first }) else {
                throw .unknownUnit(String(word), text: trimmed)
            }
            guard index > lastUnit else { throw .unitOrder(text: trimmed) }
            lastUnit = index
            rest = rest.dropFirst()
            // Twelve digits of any unit already exceed the maximum; stop before Int64 overflows.
            guard digits.count <= 12, let value = Int64(digits) else { throw .tooLarge(text: trimmed) }
            let (part, overflow) = value.multipliedReportingOverflow(by: units[index].seconds)
            guard !overflow, part <= maximumSeconds - total else { throw .tooLarge(text: trimmed) }
            total += part
        }
        guard total > 0 else { throw .zero(text: trimmed) }
        return total
    }

    /// The shortest text for a number of seconds, largest unit first: `5400` gives `1h30m`,
    /// `694800` gives `1w1d1h`. Fractions of a second are dropped; anything below one second
    /// gives `0s`. ``parseDuration(_:)`` reads every result back to the same whole seconds.
    public static func formatDuration(_ seconds: TimeInterval) -> String {
        guard seconds >= 1 else { return "0s" }
        var remaining = seconds >= Double(Int64.max) ? Int64.max : Int64(seconds.rounded(.down))
        var text = ""
        for (symbol, size) in units where remaining >= size {
            text += "\(remaining / size)\(symbol)"
            remaining %= size
        }
        return text
    }
}

/// Why a duration text was refused.
public enum DurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing but whitespace.
    case empty
    /// A leading minus sign.
    case negative(text: String)
    /// Only zero parts, such as `0s`.
    case zero(text: String)
    /// A decimal point or comma, such as `1.5h`.
    case fraction(text: String)
    /// A number at the end with no unit after it, such as `15`.
    case missingUnit(number: String, text: String)
    /// A unit other than s, m, h, d or w, such as `5min` or `2y`.
    case unknownUnit(String, text: String)
    /// A character that starts neither a number nor a unit, such as `+`.
    case unexpectedCharacter(Character, text: String)
    /// Units out of order or repeated, such as `30m1h`.
    case unitOrder(text: String)
    /// More than ``IntervalText/maximumSeconds``.
    case tooLarge(text: String)

    static let hint = "use a number and a unit s, m, h, d or w, like 90s, 15m, 1h30m or 2d"

    public var description: String {
        switch self {
        case .empty: "empty duration: \(Self.hint)"
        case .negative(let text): "duration '\(text)' is negative: durations must be greater than zero"
        case .zero(let text): "duration '\(text)' is zero: durations must be greater than zero"
        case .fraction(let text): "duration '\(text)' has a fraction: combine whole units instead, like 1h30m"
        case .missingUnit(let number, let text): "duration '\(text)': \(number) has no unit; \(Self.hint)"
        case .unknownUnit(let unit, let text): "duration '\(text)' has an unknown unit '\(unit)'; \(Self.hint)"
        case .unexpectedCharacter(let character, let text):
            "duration '\(text)' has an unexpected '\(character)'; \(Self.hint)"
        case .unitOrder(let text):
            "duration '\(text)' repeats a unit or puts a smaller unit first: write units largest first, once each"
        case .tooLarge(let text):
            "duration '\(text)' is too large: the maximum is \(IntervalText.maximumSeconds / 86_400)d (100 years)"
        }
    }
}

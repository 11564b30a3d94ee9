import TandemCore

/// Durations in config files (`15m`, `1h30m`, `7d`), parsed and printed by the core's
/// ``IntervalText``.
enum PolicyDuration {
    static func parse(_ text: String) throws(DurationError) -> Double {
        try IntervalText.parseDuration(text)
    }

    static func format(_ seconds: Double) -> String { IntervalText.formatDuration(seconds) }

    /// Also accepts milliseconds (`500ms`), for heartbeat timing.
    static func parseFraction(_ text: String) throws(DurationError) -> Double {
        if text.hasSuffix("ms"), let value = Int(text.dropLast(2)), value > 0 { return Double(value) / 1000 }
        return try IntervalText.parseDuration(text)
    }
}

import Foundation

/// When a schedule's runs are due: at a cron expression's fire times in a zone, or at a fixed
/// interval after the previous run started.
public enum ScheduleTrigger: Sendable, Equatable, CustomStringConvertible {
    case cron(CronExpression, TimeZone)
    case every(TimeInterval)

    /// The first slot strictly after `instant`.
    public func slot(after instant: Date) -> Date? {
        switch self {
        case .cron(let expression, let zone): expression.nextFire(after: instant, in: zone)
        case .every(let interval): instant.addingTimeInterval(interval)
        }
    }

    public var description: String {
        switch self {
        case .cron(let expression, let zone): "cron '\(expression)' (\(zone.identifier))"
        case .every(let seconds): "every \(IntervalText.formatDuration(seconds))"
        }
    }
}

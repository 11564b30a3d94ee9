import Foundation

/// Where the daemon gets the time: the wall clock in production, a manual clock in tests
/// (so a simulated month of schedules runs in seconds).
public protocol DaemonClock: Sendable {
    func now() -> Date
    /// Returns at `deadline` or when cancelled (throwing `CancellationError`).
    func sleep(until deadline: Date) async throws
}

/// The system's wall clock. Sleeps are cut into pieces of at most a minute and re-checked,
/// so a clock step (NTP, a suspended VM) delays a scheduled run by a minute at most.
public struct SystemClock: DaemonClock {
    public init() {}

    public func now() -> Date { Date() }

    public func sleep(until deadline: Date) async throws {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return }
            try await Task.sleep(for: .seconds(min(remaining, 60)))
        }
    }
}

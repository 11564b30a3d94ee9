import Foundation

/// A bandwidth limit that depends on the time of day, like Proxmox Backup Server's traffic
/// control: the first window containing the moment sets the rate; outside every window the
/// default applies (nil: unlimited).
public struct BandwidthSchedule: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        public var window: TimeWindow
        /// Bytes per second inside the window.
        public var rate: Int

        public init(window: TimeWindow, rate: Int) {
            self.window = window
            self.rate = rate
        }
    }

    public var defaultRate: Int?
    public var windows: [Window]
    public var timeZone: TimeZone

    public init(defaultRate: Int?, windows: [Window] = [], timeZone: TimeZone = TimeZone(identifier: "UTC")!) {
        self.defaultRate = defaultRate
        self.windows = windows
        self.timeZone = timeZone
    }

    /// Bytes per second allowed at `instant` (nil: unlimited).
    public func rate(at instant: Date) -> Int? {
        windows.first { $0.window.contains(instant, in: timeZone) }?.rate ?? defaultRate
    }
}

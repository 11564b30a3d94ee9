/// A token bucket for bandwidth limits: `rate` bytes per second, bursts up to `capacity`.
/// Pure: the caller passes the time (seconds on a monotonic clock) and sleeps for the delay
/// it is told.
public struct TokenBucket: Sendable, Equatable {
    public let rate: Double
    public let capacity: Double
    private var tokens: Double
    private var last: Double?

    public init(bytesPerSecond rate: Int, burst: Int? = nil) {
        self.rate = Double(max(1, rate))
        capacity = Double(max(1, burst ?? rate))
        tokens = capacity
    }

    /// Takes `bytes`; returns how long to wait (seconds) before sending them. A request larger
    /// than the bucket is allowed, paid for by waiting (the bucket goes negative).
    public mutating func take(_ bytes: Int, now: Double) -> Double {
        if let last { tokens = min(capacity, tokens + (now - last) * rate) }
        last = now
        tokens -= Double(bytes)
        return tokens >= 0 ? 0 : -tokens / rate
    }
}

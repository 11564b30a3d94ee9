import Foundation

/// How long to wait before sending bytes to a peer: a token bucket per tenant (its policy's
/// bandwidth) and one for the whole site, whose rate follows the time of day
/// (``BandwidthSchedule``); the longer of the two waits wins. Pure: the caller passes the
/// monotonic time and the wall-clock time, and sleeps for what it is told.
public struct ShippingPace: Sendable {
    public let siteSchedule: BandwidthSchedule?
    private var tenantBuckets: [String: TokenBucket] = [:]
    private var siteBucket: TokenBucket?

    public init(siteSchedule: BandwidthSchedule?) {
        self.siteSchedule = siteSchedule
    }

    /// Limits `tenant` to `bytesPerSecond` (nil: no limit of its own). A tenant already
    /// limited keeps its bucket, and with it the debt of what it sent.
    public mutating func setBandwidth(tenant: String, bytesPerSecond: Int?) {
        guard let bytesPerSecond else {
            tenantBuckets[tenant] = nil
            return
        }
        tenantBuckets[tenant] = tenantBuckets[tenant] ?? TokenBucket(bytesPerSecond: bytesPerSecond)
    }

    /// Takes `bytes` for `tenant` from both buckets and returns the seconds to wait before
    /// sending them. `elapsed` is monotonic seconds since a fixed start; `time` picks the
    /// site's rate, and a new rate starts a new bucket.
    public mutating func delay(tenant: String, bytes: Int, elapsed: Double, time: Date) -> Double {
        var wait = 0.0
        if var bucket = tenantBuckets[tenant] {
            wait = max(wait, bucket.take(bytes, now: elapsed))
            tenantBuckets[tenant] = bucket
        }
        if let rate = siteSchedule?.rate(at: time) {
            var bucket = siteBucket.flatMap { Int($0.rate) == rate ? $0 : nil } ?? TokenBucket(bytesPerSecond: rate)
            wait = max(wait, bucket.take(bytes, now: elapsed))
            siteBucket = bucket
        } else {
            siteBucket = nil
        }
        return wait
    }
}

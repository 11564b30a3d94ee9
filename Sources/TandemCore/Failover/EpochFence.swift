/// The twin's check on mirrored writes for one tenant: every write carries the sender's epoch;
/// a write with an epoch older than the newest seen comes from a fenced-off site (or is a
/// replay) and is refused and counted. A newer epoch moves the fence up.
public struct EpochFence: Sendable, Hashable {
    /// The newest epoch seen (persist it with the tenant's mirror state).
    public private(set) var current: Epoch
    /// Writes refused as stale since this fence was created (exported as a metric).
    public private(set) var staleRefused: Int = 0

    public init(current: Epoch) {
        self.current = current
    }

    /// The verdict on one write.
    public enum Verdict: Sendable, Hashable {
        /// Same epoch as the newest: store it.
        case accepted
        /// A newer epoch: store it; the fence moved up from `previous`.
        case advanced(from: Epoch)
        /// Older than the newest: refuse it, store nothing, log the sender.
        case refused(StaleEpochWrite)
    }

    /// Event: a mirrored write tagged `epoch` arrived.
    public mutating func admit(_ epoch: Epoch) -> Verdict {
        if epoch < current {
            staleRefused += 1
            return .refused(StaleEpochWrite(epoch: epoch, current: current))
        }
        guard epoch > current else { return .accepted }
        let previous = current
        current = epoch
        return .advanced(from: previous)
    }
}

/// A write refused because its epoch is stale: the sender has been fenced off.
public struct StaleEpochWrite: Error, Sendable, Hashable, CustomStringConvertible {
    public let epoch: Epoch
    public let current: Epoch

    public var description: String { "stale \(epoch): the tenant is at \(current); the sender was fenced off" }
}

/// The active site's view of its twin for one tenant: when a write may be acknowledged, and
/// what `status` shows as `twin_state`.
///
/// With ``Policy/required``, a write is acknowledged only once both near sites hold it; while
/// the twin is away writes wait, and fail clearly after `maxWait`. With ``Policy/preferred``,
/// before acknowledging anything the twin lacks, the active site has the twin recorded
/// outdated (``Action/recordOutdated(_:)``, at its own voter and at the witness; those are the
/// only partners the twin could form a majority with), so the twin cannot take over until it
/// caught up. When the twin returns it resyncs; only then is the record cleared and the twin
/// reported in sync again.
public struct TwinSyncMachine: Sendable {
    /// `twin: required | preferred` from the tenant's policy.
    public enum Policy: Sendable, Hashable {
        case required(maxWait: Duration)
        case preferred
    }

    /// How the active site may acknowledge a write right now.
    public enum Acknowledgement: Sendable, Hashable {
        /// Once the twin has it durably too (normal, synchronous mirroring).
        case afterTwin
        /// On this site alone: the twin is recorded outdated (degraded mode).
        case localOnly
        /// Not yet: hold the write (the twin is away, or the outdate is not yet recorded).
        case wait
        /// Give up on the write: `twin: required` and the twin has been away this long.
        case fail(twinAwayFor: Duration)
    }

    /// What the owner must do.
    public enum Action: Sendable, Hashable {
        case none
        /// Record the twin outdated at this site's voter and at the witness, then report
        /// ``outdateRecorded(now:)``.
        case recordOutdated(OutdateRequest)
        /// Start set reconciliation: send the twin what it lacks, then ``resyncCompleted(epoch:now:)``.
        case resync
        /// Clear the outdated record at both voters, then report ``outdateCleared(now:)``.
        case clearOutdated(OutdateRequest)
    }

    /// `twin_state` in `status --json`.
    public enum TwinState: String, Sendable, Hashable, Codable {
        case inSync = "in_sync"
        case catchingUp = "catching_up"
        case outdated
        case unreachable
    }

    public let holder: SiteID
    public let twin: SiteID
    public let policy: Policy
    private var state: State

    private enum State: Sendable {
        case inSync
        case away(since: MonotonicInstant)
        case outdating(since: MonotonicInstant, epoch: Epoch)
        case outdated(since: Epoch)
        case catchingUp(outdatedSince: Epoch?)
        case clearing(outdatedSince: Epoch)
    }

    public init(holder: SiteID, twin: SiteID, policy: Policy) {
        self.holder = holder
        self.twin = twin
        self.policy = policy
        self.state = .inSync
    }

    /// The twin's state for status.
    public var twinState: TwinState {
        switch state {
        case .inSync: .inSync
        case .away, .outdating: .unreachable
        case .outdated: .outdated
        case .catchingUp, .clearing: .catchingUp
        }
    }

    /// How a write may be acknowledged at `now`.
    public func acknowledgement(at now: MonotonicInstant) -> Acknowledgement {
        switch state {
        case .inSync, .catchingUp, .clearing:
            return .afterTwin
        case .outdated:
            return .localOnly
        case .outdating:
            return .wait
        case .away(let since):
            guard case .required(let maxWait) = policy, now - since >= maxWait else { return .wait }
            return .fail(twinAwayFor: now - since)
        }
    }

    /// Event: the twin stopped acknowledging (link down, timeouts). `epoch` is the lease's.
    public mutating func twinLost(epoch: Epoch, now: MonotonicInstant) -> Action {
        switch state {
        case .inSync:
            return away(epoch: epoch, now: now)
        case .catchingUp(let since?), .clearing(let since):
            state = .outdated(since: since)
            return .none
        case .catchingUp(nil):
            return away(epoch: epoch, now: now)
        case .away(let since):
            // A retry after a refused outdate.
            guard case .preferred = policy else { return .none }
            state = .outdating(since: since, epoch: epoch)
            return .recordOutdated(OutdateRequest(holder: holder, epoch: epoch, twin: twin))
        case .outdating, .outdated:
            return .none
        }
    }

    private mutating func away(epoch: Epoch, now: MonotonicInstant) -> Action {
        guard case .preferred = policy else {
            state = .away(since: now)
            return .none
        }
        state = .outdating(since: now, epoch: epoch)
        return .recordOutdated(OutdateRequest(holder: holder, epoch: epoch, twin: twin))
    }

    /// Event: both voters recorded the twin outdated; degraded acknowledgements may start.
    public mutating func outdateRecorded(now: MonotonicInstant) {
        guard case .outdating(_, let epoch) = state else { return }
        state = .outdated(since: epoch)
    }

    /// Event: a voter refused the outdate (this site is no longer the holder, or the witness
    /// is unreachable): writes keep waiting; the owner may retry with ``twinLost(epoch:now:)``.
    public mutating func outdateRefused(now: MonotonicInstant) {
        guard case .outdating(let since, _) = state else { return }
        state = .away(since: since)
    }

    /// Event: the twin is reachable again.
    public mutating func twinReturned(now: MonotonicInstant) -> Action {
        switch state {
        case .away, .outdating:
            state = .catchingUp(outdatedSince: nil)
        case .outdated(let since):
            state = .catchingUp(outdatedSince: since)
        default:
            return .none
        }
        return .resync
    }

    /// Event: the twin holds everything this site acknowledged.
    public mutating func resyncCompleted(epoch: Epoch, now: MonotonicInstant) -> Action {
        guard case .catchingUp(let since) = state else { return .none }
        guard let since else {
            state = .inSync
            return .none
        }
        state = .clearing(outdatedSince: since)
        return .clearOutdated(OutdateRequest(holder: holder, epoch: epoch, twin: twin))
    }

    /// Event: both voters cleared the outdated record: the twin is in sync again.
    public mutating func outdateCleared(now: MonotonicInstant) {
        guard case .clearing = state else { return }
        state = .inSync
    }
}

/// What a ``LeaseHolderMachine`` asks its owner to do.
public enum LeaseHolderAction: Sendable, Hashable {
    /// Send this request to every voter, this site's own included.
    case sendRequests(LeaseRequest)
    /// Start acknowledging writes for the tenant, tagged with `epoch`. `until` is the current
    /// lease end (nil for a forced promotion); ``LeaseHolderMachine/mayWrite(at:)`` stays the
    /// authority.
    case startWriting(epoch: Epoch, until: MonotonicInstant?)
    /// Stop acknowledging writes for the tenant now.
    case stopWriting(LeaseStopReason)
    /// Another site holds a newer epoch: this machine is finished; become the twin of `owner`.
    case fenced(epoch: Epoch, owner: SiteID)
    /// Send the release to every voter, then offer the tenant to its successor.
    case release(LeaseRelease)
}

/// Why a holder stopped writing.
public enum LeaseStopReason: Sendable, Hashable, CustomStringConvertible {
    /// No majority renewed the lease in time (this site lost its majority).
    case leaseExpired
    /// A voter reported a newer lease.
    case fenced(epoch: Epoch, owner: SiteID)
    /// A planned switchover is draining toward this site.
    case handover(to: SiteID)
    /// The daemon is stopping.
    case shutdown

    public var description: String {
        switch self {
        case .leaseExpired: "the lease expired without a majority renewing it"
        case .fenced(let epoch, let owner): "fenced: \(owner) holds \(epoch)"
        case .handover(let site): "handing over to \(site)"
        case .shutdown: "shutting down"
        }
    }
}

/// The phase of a ``LeaseHolderMachine``, for status and logs.
public enum LeaseHolderPhase: String, Sendable, Hashable, CaseIterable {
    case idle, acquiring, holding, forced, draining, released, fenced, stopped
}

/// Why a switchover step was refused.
public enum HandoverRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// Only a site holding an unexpired lease can hand it over.
    case notHolding(LeaseHolderPhase)
    /// The successor is not one of the voters, or is this site.
    case unknownSuccessor(SiteID)
    /// ``LeaseHolderMachine/drained(now:)`` without a switchover under way.
    case notDraining(LeaseHolderPhase)

    public var description: String {
        switch self {
        case .notHolding(let phase): "this site does not hold the lease (it is \(phase.rawValue))"
        case .unknownSuccessor(let site): "\(site) cannot take the lease over"
        case .notDraining(let phase): "no switchover is under way (the lease holder is \(phase.rawValue))"
        }
    }
}

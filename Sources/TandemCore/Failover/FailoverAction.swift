/// What a ``FailoverMachine`` asks its owner to do.
public enum FailoverAction: Sendable, Hashable {
    case none
    /// Ask the witness whether it agrees that `activeSite` (at `epoch`) is gone; answer with
    /// ``FailoverMachine/witnessAnswered(_:now:)`` (the witness uses
    /// ``LeaseGrantorMachine/takeoverVerdict(requester:now:)``).
    case consultWitness(activeSite: SiteID, epoch: Epoch)
    /// Not promoting (yet), and why: for status and logs.
    case holdOff(PromotionRefusal)
    /// Take the tenant over: start a ``LeaseHolderMachine`` with `promotion.epoch`
    /// (``LeaseHolderMachine/startForced(reason:now:)`` for a forced one), run the tenant's
    /// schedules once it may write, and audit the promotion.
    case promote(Promotion)
    /// The previous active site is back and still writing under its old epoch after a forced
    /// promotion: report it; both histories are kept for the operator to choose.
    case divergenceDetected(DivergenceReport)
}

/// A decision to take a tenant over.
public struct Promotion: Sendable, Hashable {
    /// The new epoch (one above the newest seen).
    public let epoch: Epoch
    public let previousEpoch: Epoch
    public let previousSite: SiteID
    public let cause: Cause

    /// Why the twin takes over.
    public enum Cause: Sendable, Hashable {
        /// Missed heartbeats, the witness agreed, the old lease expired.
        case failover
        /// The active site drained, synced and released the lease (`failover --to`).
        case switchover
        /// The operator forced it without the witness; histories may diverge.
        case forced(DivergenceReport)
    }
}

/// Two histories of one tenant may exist: this site's from `epoch` on, and the other site's
/// under `otherEpoch` (what it acknowledged that this site lacks). Both are kept; the operator
/// chooses, audited.
public struct DivergenceReport: Sendable, Hashable, CustomStringConvertible {
    public let site: SiteID
    public let epoch: Epoch
    public let otherSite: SiteID
    public let otherEpoch: Epoch
    /// The operator's reason for the forced promotion.
    public let reason: OperatorReason
    /// Set when this site was known to lack acknowledged data when it was promoted.
    public let outdatedSince: Epoch?

    public var description: String {
        var text = "\(site) was promoted by force to \(epoch) (\"\(reason)\"); \(otherSite) may hold writes "
            + "under \(otherEpoch) that \(site) lacks: both histories are kept"
        if let outdatedSince { text += "; \(site) was outdated since \(outdatedSince)" }
        return text
    }
}

/// Why a twin does not (yet) take a tenant over.
public enum PromotionRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// The witness does not back the takeover.
    case witnessDisagrees(TakeoverObjection)
    /// The witness did not answer.
    case witnessUnreachable
    /// The old lease may still be in use until this instant (this site's clock).
    case oldLeaseNotExpired(until: MonotonicInstant)
    /// This twin lacks acknowledged data since this epoch; it must catch up (or be forced).
    case outdated(since: Epoch)
    /// The active site was heard from this recently: fewer than `failoverAfter` missed.
    case heartbeatsStillArriving(lastHeard: Duration)
    /// A forced promotion needs the operator's reason.
    case reasonRequired
    /// This machine has already promoted.
    case alreadyPromoted
    /// A handover offer that is not from the active site, not to this site, or stale.
    case notOffered(holder: SiteID, epoch: Epoch)

    public var description: String {
        switch self {
        case .witnessDisagrees(let objection): "the witness disagrees: \(objection)"
        case .witnessUnreachable: "the witness did not answer"
        case .oldLeaseNotExpired(let until): "the old lease may be in use until \(until)"
        case .outdated(let since): "this site lacks acknowledged data since \(since); resync first or force"
        case .heartbeatsStillArriving(let ago): "the active site was heard from \(ago.spoken) ago"
        case .reasonRequired: "a forced promotion needs a reason (--reason)"
        case .alreadyPromoted: "already promoted"
        case .notOffered(let holder, let epoch): "no handover from \(holder) at \(epoch) for this site"
        }
    }
}

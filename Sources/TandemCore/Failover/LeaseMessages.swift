/// The messages between a tenant's lease holder and the three voters
/// (``LeaseHolderMachine`` and ``LeaseGrantorMachine``). The site link encodes them; here they
/// are plain values. Every message is for one tenant; the link carries the tenant's name.

/// Identifies one lease request of one holder, so a grant can be matched with the instant its
/// request was sent. The incarnation changes whenever a holder machine is created (a restart,
/// a new epoch), so a grant answering a previous incarnation is never mistaken for a new one.
public struct LeaseRequestID: Sendable, Hashable, CustomStringConvertible {
    /// Chosen by the owner per holder machine (e.g. random, from the system CSPRNG).
    public let incarnation: UInt64
    /// Counts the requests of this incarnation.
    public let sequence: UInt64

    public init(incarnation: UInt64, sequence: UInt64) {
        self.incarnation = incarnation
        self.sequence = sequence
    }

    public var description: String { "\(incarnation).\(sequence)" }
}

/// A holder asks every voter (itself included) to grant or renew its lease.
public struct LeaseRequest: Sendable, Hashable {
    public let holder: SiteID
    public let epoch: Epoch
    public let id: LeaseRequestID

    public init(holder: SiteID, epoch: Epoch, id: LeaseRequestID) {
        self.holder = holder
        self.epoch = epoch
        self.id = id
    }
}

/// A voter's promise: no other holder is granted this tenant for ``duration`` on the voter's
/// clock, counted from the moment it granted.
public struct LeaseGrant: Sendable, Hashable {
    public let grantor: SiteID
    public let holder: SiteID
    public let epoch: Epoch
    /// The request this answers.
    public let request: LeaseRequestID
    /// The length of the promise (the grantor's ``LeaseSettings/leaseDuration``).
    public let duration: Duration

    public init(grantor: SiteID, holder: SiteID, epoch: Epoch, request: LeaseRequestID, duration: Duration) {
        self.grantor = grantor
        self.holder = holder
        self.epoch = epoch
        self.request = request
        self.duration = duration
    }
}

/// Why a voter refused a lease request.
public enum LeaseRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// The request's epoch is older than the newest this voter has seen (and who has it).
    case staleEpoch(current: Epoch, owner: SiteID)
    /// The request's epoch was already granted to another site.
    case epochTaken(by: SiteID)
    /// Another site holds an unexpired promise from this voter.
    case heldByOther(holder: SiteID, epoch: Epoch, remaining: Duration)
    /// The holder released this epoch (planned switchover); a late renewal cannot revive it.
    case released(Epoch)
    /// The requester was recorded outdated (it lacks acknowledged data) since this epoch.
    case requesterOutdated(since: Epoch)
    /// The voter restarted and may have forgotten a promise: it grants nothing for one lease.
    case recovering(remaining: Duration)

    /// The reason without its details, for counting.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case staleEpoch, epochTaken, heldByOther, released, requesterOutdated, recovering
    }

    public var kind: Kind {
        switch self {
        case .staleEpoch: .staleEpoch
        case .epochTaken: .epochTaken
        case .heldByOther: .heldByOther
        case .released: .released
        case .requesterOutdated: .requesterOutdated
        case .recovering: .recovering
        }
    }

    /// The newer lease this refusal reveals, if any: the requester has been fenced off.
    func fencing(_ request: LeaseRequest) -> (epoch: Epoch, owner: SiteID)? {
        switch self {
        case .staleEpoch(let current, let owner) where current > request.epoch: (current, owner)
        case .epochTaken(let owner) where owner != request.holder: (request.epoch, owner)
        case .heldByOther(let holder, let epoch, _) where epoch > request.epoch: (epoch, holder)
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .staleEpoch(let current, let owner): "stale epoch: \(owner) holds \(current)"
        case .epochTaken(let site): "epoch already granted to \(site)"
        case .heldByOther(let holder, let epoch, let remaining):
            "\(holder) holds the lease (\(epoch)) for another \(remaining.spoken)"
        case .released(let epoch): "\(epoch) was released"
        case .requesterOutdated(let since): "the requester is outdated since \(since)"
        case .recovering(let remaining): "the voter restarted; it grants again in \(remaining.spoken)"
        }
    }
}

/// A voter's answer to a ``LeaseRequest``.
public enum LeaseReply: Sendable, Hashable {
    case granted(LeaseGrant)
    case refused(LeaseRefused)
}

/// A refusal, with what was refused and by whom.
public struct LeaseRefused: Sendable, Hashable {
    public let grantor: SiteID
    public let request: LeaseRequest
    public let reason: LeaseRefusal

    public init(grantor: SiteID, request: LeaseRequest, reason: LeaseRefusal) {
        self.grantor = grantor
        self.request = request
        self.reason = reason
    }
}

/// A holder that has stopped writing gives its lease back (planned switchover), naming the
/// site that should take over.
public struct LeaseRelease: Sendable, Hashable {
    public let holder: SiteID
    public let epoch: Epoch
    public let successor: SiteID

    public init(holder: SiteID, epoch: Epoch, successor: SiteID) {
        self.holder = holder
        self.epoch = epoch
        self.successor = successor
    }
}

/// The active site asks a voter to record (or, after resync, clear) that its twin lacks
/// acknowledged data, so the twin cannot take over (DRBD's "outdate").
public struct OutdateRequest: Sendable, Hashable {
    /// The active site asking; it must own the voter's newest epoch.
    public let holder: SiteID
    public let epoch: Epoch
    public let twin: SiteID

    public init(holder: SiteID, epoch: Epoch, twin: SiteID) {
        self.holder = holder
        self.epoch = epoch
        self.twin = twin
    }
}

/// Why a voter refused to record or clear an outdated twin.
public enum OutdateRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// The asking site does not own this voter's newest epoch (it was fenced off, or is early).
    case notHolder(current: Epoch?, owner: SiteID?)
    /// The voter restarted and does not vouch for anything yet.
    case recovering(remaining: Duration)
    /// A site cannot record itself outdated.
    case twinIsHolder(SiteID)

    public var description: String {
        switch self {
        case .twinIsHolder(let site): "\(site) is the holder, not a twin"
        case .notHolder(let epoch, let owner):
            "not the lease holder (newest is \(epoch.map(String.init(describing:)) ?? "none") of \(owner?.name ?? "nobody"))"
        case .recovering(let remaining): "the voter restarted; it answers again in \(remaining.spoken)"
        }
    }
}

/// The witness's answer when a twin asks whether it may take a tenant over.
public enum WitnessVerdict: Sendable, Hashable {
    /// The witness has not heard from the holder for the detection time either. `epoch` is
    /// the newest it knows; `oldLeaseRemaining` is what is left of its promise to the holder.
    case agrees(epoch: Epoch?, oldLeaseRemaining: Duration)
    case disagrees(TakeoverObjection)
}

/// Why the witness does not back a takeover.
public enum TakeoverObjection: Sendable, Hashable, CustomStringConvertible {
    /// The witness heard from the holder this recently (less than the detection time ago).
    case holderAlive(site: SiteID, lastHeard: Duration)
    /// The asking twin was recorded outdated since this epoch.
    case requesterOutdated(since: Epoch)
    /// The witness restarted recently and cannot tell who is alive.
    case recovering(remaining: Duration)

    public var description: String {
        switch self {
        case .holderAlive(let site, let ago): "the witness heard from \(site) \(ago.spoken) ago"
        case .requesterOutdated(let since): "the twin is outdated since \(since)"
        case .recovering(let remaining): "the witness restarted; it answers in \(remaining.spoken)"
        }
    }
}

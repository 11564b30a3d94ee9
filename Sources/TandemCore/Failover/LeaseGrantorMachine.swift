/// The newest epoch a voter has seen for a tenant, and the site it belongs to. The owner of a
/// ``LeaseGrantorMachine`` persists it (with the outdated twins) before sending any reply.
public struct EpochOwnership: Sendable, Hashable {
    public let epoch: Epoch
    public let owner: SiteID

    public init(epoch: Epoch, owner: SiteID) {
        self.epoch = epoch
        self.owner = owner
    }
}

/// One site's vote on one tenant's lease. Every site runs one per tenant, the witness too;
/// a holder needs grants from a majority of the three (``LeaseHolderMachine``).
///
/// Rules, checked in this order for each ``LeaseRequest``:
/// 1. For one ``LeaseSettings/leaseDuration`` after starting it grants nothing
///    (``LeaseRefusal/recovering(remaining:)``): it may have forgotten a promise made before a
///    restart.
/// 2. A requester recorded outdated is refused: it lacks data the holder acknowledged.
/// 3. An epoch below the newest seen is stale; the newest epoch belongs to one site only.
/// 4. A holder that released an epoch cannot renew it with a late request.
/// 5. While a promise to another site is unexpired (`now ≤ until`, inclusive) nobody else is
///    granted: **no two holders ever have overlapping promises**. A refused request with a
///    newer epoch still becomes the newest epoch (like a Paxos prepare), so the old holder's
///    next renewal here is refused as stale and it stops: a takeover backed by the witness
///    completes within one lease instead of waiting behind renewals forever.
/// 6. Otherwise it grants: the promise runs until `now + leaseDuration` on this clock.
///
/// Refusals change nothing but the counters (and, per rule 5, the newest epoch). The witness
/// role adds ``takeoverVerdict(requester:now:)``; the outdate records serve `twin: preferred`.
public struct LeaseGrantorMachine: Sendable {
    /// The voting site.
    public let site: SiteID
    public let settings: LeaseSettings
    /// The newest epoch seen and its owner (persist it).
    public private(set) var newest: EpochOwnership?
    /// Twins recorded outdated, with the epoch since which (persist it).
    public private(set) var outdated: [SiteID: Epoch]
    /// Refused requests by reason, stale epochs included.
    public private(set) var refusals: [LeaseRefusal.Kind: Int] = [:]
    private var lastHeard: [SiteID: MonotonicInstant] = [:]
    private var state: State

    private enum State: Sendable {
        case recovering(until: MonotonicInstant)
        case vacant
        case promised(holder: SiteID, epoch: Epoch, until: MonotonicInstant)
        case released(holder: SiteID, epoch: Epoch)
    }

    /// A voter started at `now`, with its persisted records; quiet for one lease duration.
    public init(site: SiteID, settings: LeaseSettings, startedAt now: MonotonicInstant,
                newest: EpochOwnership? = nil, outdated: [SiteID: Epoch] = [:]) {
        self.site = site
        self.settings = settings
        self.newest = newest
        self.outdated = outdated
        self.state = .recovering(until: now + settings.leaseDuration)
    }

    /// The unexpired promise at `now`, if any (for status and tests).
    public func promise(at now: MonotonicInstant) -> (holder: SiteID, epoch: Epoch, until: MonotonicInstant)? {
        guard case .promised(let holder, let epoch, let until) = state, now <= until else { return nil }
        return (holder, epoch, until)
    }

    /// Any message from `site` arrived (heartbeats included): the witness's liveness view.
    public mutating func heardFrom(_ site: SiteID, now: MonotonicInstant) {
        lastHeard[site] = max(lastHeard[site] ?? now, now)
    }

    /// Event: a holder asks for (or to renew) its lease.
    public mutating func request(_ request: LeaseRequest, now: MonotonicInstant) -> LeaseReply {
        heardFrom(request.holder, now: now)
        if let reason = refusal(for: request, now: now) {
            refusals[reason.kind, default: 0] += 1
            if case .heldByOther = reason, request.epoch > (newest?.epoch ?? Epoch(0)) {
                newest = EpochOwnership(epoch: request.epoch, owner: request.holder)
            }
            return .refused(LeaseRefused(grantor: site, request: request, reason: reason))
        }
        if request.epoch > (newest?.epoch ?? Epoch(0)) {
            newest = EpochOwnership(epoch: request.epoch, owner: request.holder)
        }
        state = .promised(holder: request.holder, epoch: request.epoch, until: now + settings.leaseDuration)
        return .granted(LeaseGrant(grantor: site, holder: request.holder, epoch: request.epoch,
                                   request: request.id, duration: settings.leaseDuration))
    }

    private func refusal(for request: LeaseRequest, now: MonotonicInstant) -> LeaseRefusal? {
        if case .recovering(let until) = state, now < until { return .recovering(remaining: until - now) }
        if let since = outdated[request.holder] { return .requesterOutdated(since: since) }
        if let newest {
            if request.epoch < newest.epoch { return .staleEpoch(current: newest.epoch, owner: newest.owner) }
            if request.epoch == newest.epoch, newest.owner != request.holder { return .epochTaken(by: newest.owner) }
        }
        switch state {
        case .released(let holder, let epoch) where holder == request.holder && request.epoch <= epoch:
            return .released(epoch)
        case .promised(let holder, let epoch, let until) where holder != request.holder && now <= until:
            return .heldByOther(holder: holder, epoch: epoch, remaining: until - now)
        default:
            return nil
        }
    }

    /// Event: the holder gave its lease back (planned switchover). True if the promise ended.
    public mutating func release(_ release: LeaseRelease, now: MonotonicInstant) -> Bool {
        heardFrom(release.holder, now: now)
        guard case .promised(let holder, let epoch, _) = state,
              holder == release.holder, epoch == release.epoch
        else { return false }
        state = .released(holder: holder, epoch: epoch)
        return true
    }

    /// Event: the holder asks to record its twin outdated (before acknowledging data the twin
    /// lacks). Returns the epoch since which the twin is outdated.
    public mutating func recordOutdated(_ request: OutdateRequest, now: MonotonicInstant) -> Result<Epoch, OutdateRefusal> {
        heardFrom(request.holder, now: now)
        if let refusal = outdateRefusal(for: request, now: now) { return .failure(refusal) }
        let since = min(outdated[request.twin] ?? request.epoch, request.epoch)
        outdated[request.twin] = since
        return .success(since)
    }

    /// Event: the holder reports its twin caught up; it may take over again.
    public mutating func clearOutdated(_ request: OutdateRequest, now: MonotonicInstant) -> Result<Void, OutdateRefusal> {
        heardFrom(request.holder, now: now)
        if let refusal = outdateRefusal(for: request, now: now) { return .failure(refusal) }
        outdated[request.twin] = nil
        return .success(())
    }

    private func outdateRefusal(for request: OutdateRequest, now: MonotonicInstant) -> OutdateRefusal? {
        if case .recovering(let until) = state, now < until { return .recovering(remaining: until - now) }
        guard request.twin != request.holder else { return .twinIsHolder(request.twin) }
        guard newest == EpochOwnership(epoch: request.epoch, owner: request.holder) else {
            return .notHolder(current: newest?.epoch, owner: newest?.owner)
        }
        return nil
    }

    /// The witness's answer to `requester` asking whether it may take the tenant over: agrees
    /// only if it is not recovering, the requester is not outdated, and it has not heard from
    /// the current holder for the detection time (`interval × failoverAfter`) either.
    public func takeoverVerdict(requester: SiteID, now: MonotonicInstant) -> WitnessVerdict {
        if case .recovering(let until) = state, now < until { return .disagrees(.recovering(remaining: until - now)) }
        if let since = outdated[requester] { return .disagrees(.requesterOutdated(since: since)) }
        let live = promise(at: now).flatMap { $0.holder == requester ? nil : $0 }
        let subject = live?.holder ?? newest.flatMap { $0.owner == requester ? nil : $0.owner }
        if let subject, let last = lastHeard[subject], now - last < settings.detectionTime {
            return .disagrees(.holderAlive(site: subject, lastHeard: now - last))
        }
        return .agrees(epoch: newest?.epoch, oldLeaseRemaining: live.map { $0.until - now } ?? .zero)
    }
}

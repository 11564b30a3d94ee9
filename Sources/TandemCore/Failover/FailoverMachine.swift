/// The twin's view of one tenant: it watches the active site's heartbeats and decides when to
/// take the tenant over (``FailoverAction/promote(_:)``), then the owner starts a
/// ``LeaseHolderMachine`` with the new epoch.
///
/// An automatic promotion needs all of:
/// 1. `failoverAfter` heartbeats missed: nothing from the active site for
///    `interval × failoverAfter` on this clock;
/// 2. the witness agrees (it has not heard from the active site either, and this twin is not
///    recorded outdated);
/// 3. the old lease has expired as far as this twin can tell: more than `L` after the last
///    heartbeat on this clock (the holder renews as it heartbeats and writes for at most
///    `L − D` of its own clock after that, which is at most `L` of this one), and after the
///    rest of the witness's promise;
/// 4. this twin is not outdated.
///
/// A planned switchover (``handoverOffered(_:now:)``) needs only the active site's release.
/// A forced promotion (``forcePromotion(reason:now:)``) is for when the witness is gone too:
/// it needs an operator's reason, missed heartbeats and the expired old lease, ignores the
/// witness and the outdated flag, and reports the histories as divergent. Refusals are typed
/// (``PromotionRefusal``).
///
/// Feed it every heartbeat *and* every lease request this site's voter receives from the
/// active site: both show it alive. A renewal the twin never saw can still extend the old
/// lease; the voters' promises cover that (the new holder is refused until they end), so the
/// voters, not this machine, are what rule out two writers (``LeaseHolderMachine``).
public struct FailoverMachine: Sendable {
    /// This (twin) site.
    public let site: SiteID
    public let settings: LeaseSettings
    /// The site this twin believes active, and the newest epoch seen.
    public private(set) var activeSite: SiteID
    public private(set) var epoch: Epoch
    /// Set while this twin lacks data the active site acknowledged (``markedOutdated(since:)``).
    public private(set) var outdatedSince: Epoch?
    /// Why the last attempt did not promote, for status.
    public private(set) var lastRefusal: PromotionRefusal?
    private var lastHeartbeat: MonotonicInstant
    private var divergenceReported = false
    private var state: State

    private enum State: Sendable {
        case watching
        case consultingWitness(nextAsk: MonotonicInstant)
        case awaitingExpiry(until: MonotonicInstant)
        case promoted(Promotion)
    }

    /// Watching `activeSite` from `now`; counts as if a heartbeat had just arrived.
    public init(site: SiteID, activeSite: SiteID, epoch: Epoch, settings: LeaseSettings,
                outdatedSince: Epoch? = nil, now: MonotonicInstant) {
        self.site = site
        self.settings = settings
        self.activeSite = activeSite
        self.epoch = epoch
        self.outdatedSince = outdatedSince
        self.lastHeartbeat = now
        self.state = .watching
    }

    /// Until when (inclusive) the old lease may still be in use, as seen on this clock.
    public var oldLeaseEnd: MonotonicInstant { lastHeartbeat + settings.leaseDuration }

    /// Heartbeats missed at `now`.
    public func missedHeartbeats(at now: MonotonicInstant) -> Int {
        guard now > lastHeartbeat else { return 0 }
        return Int((now - lastHeartbeat).clampedNanoseconds / settings.interval.clampedNanoseconds)
    }

    /// The promotion made, if any.
    public var promotion: Promotion? {
        if case .promoted(let promotion) = state { return promotion }
        return nil
    }

    // MARK: Events

    /// Event: a heartbeat for this tenant; `active` when the sender runs the tenant's lease.
    public mutating func heartbeat(from sender: SiteID, epoch: Epoch, active: Bool, now: MonotonicInstant) -> FailoverAction {
        if case .promoted(let promotion) = state {
            guard case .forced(let report) = promotion.cause, active, sender == promotion.previousSite,
                  epoch < promotion.epoch, !divergenceReported
            else { return .none }
            divergenceReported = true
            return .divergenceDetected(DivergenceReport(site: site, epoch: promotion.epoch, otherSite: sender,
                                                        otherEpoch: epoch, reason: report.reason,
                                                        outdatedSince: report.outdatedSince))
        }
        guard active, sender != site, epoch >= self.epoch else { return .none }
        activeSite = sender
        self.epoch = epoch
        lastHeartbeat = max(lastHeartbeat, now)
        switch state {
        case .consultingWitness, .awaitingExpiry:
            state = .watching
            return hold(.heartbeatsStillArriving(lastHeard: .zero))
        default:
            return .none
        }
    }

    /// Event: time passed.
    public mutating func tick(now: MonotonicInstant) -> FailoverAction {
        switch state {
        case .watching:
            guard missedHeartbeats(at: now) >= settings.failoverAfter else { return .none }
            state = .consultingWitness(nextAsk: now + settings.interval)
            return .consultWitness(activeSite: activeSite, epoch: epoch)
        case .consultingWitness(let nextAsk):
            guard now >= nextAsk else { return .none }
            state = .consultingWitness(nextAsk: now + settings.interval)
            return .consultWitness(activeSite: activeSite, epoch: epoch)
        case .awaitingExpiry(let until):
            guard now > until else { return .none }
            if let since = outdatedSince {
                state = .consultingWitness(nextAsk: now + settings.interval)
                return hold(.outdated(since: since))
            }
            return promote(.failover)
        case .promoted:
            return .none
        }
    }

    /// Event: the witness answered ``FailoverAction/consultWitness(activeSite:epoch:)``.
    public mutating func witnessAnswered(_ verdict: WitnessVerdict, now: MonotonicInstant) -> FailoverAction {
        guard case .consultingWitness = state else { return .none }
        switch verdict {
        case .disagrees(.requesterOutdated(let since)):
            outdatedSince = min(outdatedSince ?? since, since)
            return hold(.outdated(since: since))
        case .disagrees(let objection):
            return hold(.witnessDisagrees(objection))
        case .agrees(let witnessEpoch, let remaining):
            if let witnessEpoch, witnessEpoch > epoch { epoch = witnessEpoch }
            if let since = outdatedSince { return hold(.outdated(since: since)) }
            let until = max(oldLeaseEnd, now + remaining)
            guard now > until else {
                state = .awaitingExpiry(until: until)
                return hold(.oldLeaseNotExpired(until: until))
            }
            return promote(.failover)
        }
    }

    /// Event: the witness did not answer in time (the next tick asks again).
    public mutating func witnessUnreachable(now: MonotonicInstant) -> FailoverAction {
        guard case .consultingWitness = state else { return .none }
        return hold(.witnessUnreachable)
    }

    /// Event: the active site reports that this twin lacks acknowledged data since `since`.
    public mutating func markedOutdated(since: Epoch) {
        outdatedSince = min(outdatedSince ?? since, since)
    }

    /// Event: resync finished and the active site cleared the outdated record.
    public mutating func caughtUp() {
        outdatedSince = nil
    }

    /// Event: the active site drained, synced and released the lease to this site (planned
    /// switchover). Promotes at once with the next epoch.
    public mutating func handoverOffered(_ release: LeaseRelease, now: MonotonicInstant) throws(PromotionRefusal) -> FailoverAction {
        if case .promoted = state { throw .alreadyPromoted }
        guard release.successor == site, release.holder == activeSite, release.epoch >= epoch else {
            throw .notOffered(holder: release.holder, epoch: release.epoch)
        }
        if let since = outdatedSince { throw .outdated(since: since) }
        epoch = release.epoch
        return promote(.switchover)
    }

    /// Event: the operator forces a promotion (`failover --force`), for when the witness is
    /// gone too. Both histories are kept and the divergence is reported.
    public mutating func forcePromotion(reason: String, now: MonotonicInstant) throws(PromotionRefusal) -> FailoverAction {
        guard let reason = OperatorReason(reason) else { throw .reasonRequired }
        if case .promoted = state { throw .alreadyPromoted }
        guard missedHeartbeats(at: now) >= settings.failoverAfter else {
            throw .heartbeatsStillArriving(lastHeard: now - lastHeartbeat)
        }
        guard now > oldLeaseEnd else { throw .oldLeaseNotExpired(until: oldLeaseEnd) }
        let report = DivergenceReport(site: site, epoch: epoch.next, otherSite: activeSite, otherEpoch: epoch,
                                      reason: reason, outdatedSince: outdatedSince)
        return promote(.forced(report))
    }

    private mutating func hold(_ refusal: PromotionRefusal) -> FailoverAction {
        lastRefusal = refusal
        return .holdOff(refusal)
    }

    private mutating func promote(_ cause: Promotion.Cause) -> FailoverAction {
        let promotion = Promotion(epoch: epoch.next, previousEpoch: epoch, previousSite: activeSite, cause: cause)
        state = .promoted(promotion)
        lastRefusal = nil
        return .promote(promotion)
    }
}

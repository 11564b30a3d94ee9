/// The active site's view of one tenant's lease: it asks the three voters for grants, writes
/// only while a majority of them back it, and stops when the lease runs out, when it sees a
/// newer epoch (fenced) or when it hands the tenant over.
///
/// ## Why two sites never write for the same tenant at once
///
/// Let `L` be ``LeaseSettings/leaseDuration`` and `D` ``LeaseSettings/driftMargin``. The drift
/// assumption: if one site's clock advances by `d ≤ L` over a span of real time, no other
/// site's clock advances by more than `d + D` over the same span.
///
/// * The holder sends a request when its clock reads `s` (real time `Tₛ`). A voter grants it
///   when its own clock reads `g` (real time `T_g ≥ Tₛ`) and promises the tenant to nobody
///   else while its clock reads `≤ g + L` (``LeaseGrantorMachine``).
/// * On that grant the holder may write while its clock reads `< s + (L − D)`: it counts from
///   when it *sent*, so any delay of the request or the grant only shortens its lease. Call
///   `Tₕ` the real time its clock reaches `s + (L − D)`.
/// * Over `[Tₛ, Tₕ]` the holder's clock advances `L − D ≤ L`, so the voter's advances at most
///   `L`. The voter's clock read at most `g` at `Tₛ` (`Tₛ ≤ T_g`), so at `Tₕ` it reads at most
///   `g + L`. The voter grants anyone else only once its clock reads more than `g + L`,
///   i.e. strictly after `Tₕ`:
///
///       holder's last write  <  Tₕ  ≤  T(voter clock = g + L)  <  the voter's earliest regrant
///       since   (L − D) + D ≤ L   — the drift margin is paid once, by the holder.
///
/// * A site writes only while grants from a majority are unexpired by this rule, and only
///   after they *arrived* (after they were made). Any two majorities of three share a voter;
///   that voter's grants to two different sites are separated by its promise, so by the
///   inequality the two writing windows are disjoint. A voter that restarts grants nothing for
///   `L`, so a promise it forgot is still honoured; epochs it persists keep writers' epochs
///   from going back.
///
/// A twin taking over also waits, on its own clock, more than `L` after the last heartbeat it
/// saw (the holder's `L − D` plus the drift margin) and needs the witness to agree
/// (``FailoverMachine``). Those keep failover orderly and quick; the inequality above alone is
/// what makes it safe. `L > interval × failoverAfter + D` (``LeaseSettings``) keeps a holder
/// that loses fewer renewals than its twin needs to suspect it writing. A forced promotion
/// (``startForced(reason:now:)``) writes without a majority by operator decision and is outside
/// this guarantee; that is why it is reported as divergent.
///
/// ## Events and actions
///
/// One mutating method per event; each returns the actions for the owner, in order. Every
/// ``LeaseHolderAction/startWriting(epoch:until:)`` is followed by exactly one
/// ``LeaseHolderAction/stopWriting(_:)``. Whatever the actions, the owner checks
/// ``mayWrite(at:)`` immediately before acknowledging any write: time passes between ticks.
public struct LeaseHolderMachine: Sendable {
    /// This site.
    public let site: SiteID
    /// The sites whose grants count (all three, this one included).
    public let voters: Set<SiteID>
    public let settings: LeaseSettings
    /// The epoch this machine holds (a takeover creates a new machine with a newer epoch).
    public let epoch: Epoch
    /// Distinguishes this machine's requests from any earlier one's (pick it at random).
    public let incarnation: UInt64
    /// Refusals received, by reason.
    public private(set) var refusals: [LeaseRefusal.Kind: Int] = [:]
    private var state: State = .idle
    private var nextSequence: UInt64 = 0
    private var sentAt: [UInt64: MonotonicInstant] = [:]
    private var writableUntil: [SiteID: MonotonicInstant] = [:]
    private var nextRenewal: MonotonicInstant?

    private enum State: Sendable {
        case idle
        case acquiring
        case holding
        case forced(OperatorReason)
        case draining(successor: SiteID)
        case released(successor: SiteID)
        case fenced(epoch: Epoch, owner: SiteID)
        case stopped
    }

    public init(site: SiteID, voters: Set<SiteID>, settings: LeaseSettings, epoch: Epoch, incarnation: UInt64) {
        self.site = site
        self.voters = voters.union([site])
        self.settings = settings
        self.epoch = epoch
        self.incarnation = incarnation
    }

    // MARK: Queries

    /// Until when (on this clock) grants from a majority allow writing; nil without a majority.
    public var leaseEnd: MonotonicInstant? {
        let ends = voters.compactMap { writableUntil[$0] }.sorted(by: >)
        let quorum = LeaseSettings.quorum(of: voters.count)
        return ends.count >= quorum ? ends[quorum - 1] : nil
    }

    /// Whether this site may acknowledge a write for the tenant at `now`: holding a lease of
    /// this epoch backed by a majority and unexpired (drift margin already deducted), or
    /// promoted by force.
    public func mayWrite(at now: MonotonicInstant) -> Bool {
        switch state {
        case .holding: leaseEnd.map { now < $0 } ?? false
        case .forced: true
        default: false
        }
    }

    /// The phase, for status and logs.
    public var phase: LeaseHolderPhase {
        switch state {
        case .idle: .idle
        case .acquiring: .acquiring
        case .holding: .holding
        case .forced: .forced
        case .draining: .draining
        case .released: .released
        case .fenced: .fenced
        case .stopped: .stopped
        }
    }

    /// When the owner should call ``tick(now:)`` next.
    public var nextDeadline: MonotonicInstant? {
        guard let nextRenewal else { return nil }
        if case .holding = state, let end = leaseEnd { return min(end, nextRenewal) }
        return nextRenewal
    }

    private var isWriting: Bool {
        switch state {
        case .holding, .forced: true
        default: false
        }
    }

    private var isAsking: Bool {
        switch state {
        case .acquiring, .holding, .forced, .draining: true
        default: false
        }
    }

    // MARK: Events

    /// Event: start asking for the lease.
    public mutating func start(now: MonotonicInstant) -> [LeaseHolderAction] {
        guard case .idle = state else { return [] }
        state = .acquiring
        return [.sendRequests(makeRequest(now: now))]
    }

    /// Event: the operator forced a promotion (the witness is gone too). Writes at once,
    /// without a majority, and keeps asking; once a majority grants, the normal rules apply.
    public mutating func startForced(reason: OperatorReason, now: MonotonicInstant) -> [LeaseHolderAction] {
        guard case .idle = state else { return [] }
        state = .forced(reason)
        return [.startWriting(epoch: epoch, until: nil), .sendRequests(makeRequest(now: now))]
    }

    /// Event: a voter granted one of this machine's requests.
    public mutating func grantReceived(_ grant: LeaseGrant, now: MonotonicInstant) -> [LeaseHolderAction] {
        guard isAsking, grant.holder == site, grant.epoch == epoch, grant.request.incarnation == incarnation,
              voters.contains(grant.grantor), let sent = sentAt[grant.request.sequence]
        else { return [] }
        let end = sent + (min(grant.duration, settings.leaseDuration) - settings.driftMargin)
        writableUntil[grant.grantor] = max(writableUntil[grant.grantor] ?? end, end)
        guard let until = leaseEnd, now < until else { return [] }
        switch state {
        case .acquiring:
            state = .holding
            return [.startWriting(epoch: epoch, until: until)]
        case .forced:
            state = .holding
            return []
        default:
            return []
        }
    }

    /// Event: a voter refused one of this machine's requests. A refusal revealing a newer
    /// lease fences this machine for good; any other is counted, and the next renewal retries.
    public mutating func refusalReceived(_ refused: LeaseRefused, now: MonotonicInstant) -> [LeaseHolderAction] {
        guard refused.request.holder == site, refused.request.epoch == epoch,
              refused.request.id.incarnation == incarnation
        else { return [] }
        refusals[refused.reason.kind, default: 0] += 1
        guard isAsking else { return [] }
        guard let newer = refused.reason.fencing(refused.request) else {
            // Waiting out an older holder's promise: ask again just after it ends.
            if case .heldByOther(_, _, let remaining) = refused.reason, let due = nextRenewal {
                nextRenewal = min(due, now + max(remaining, .milliseconds(1)))
            }
            return []
        }
        let wasWriting = isWriting
        state = .fenced(epoch: newer.epoch, owner: newer.owner)
        let fenced = LeaseHolderAction.fenced(epoch: newer.epoch, owner: newer.owner)
        return wasWriting ? [.stopWriting(.fenced(epoch: newer.epoch, owner: newer.owner)), fenced] : [fenced]
    }

    /// Event: time passed. Stops writing once the lease ran out, renews every interval.
    public mutating func tick(now: MonotonicInstant) -> [LeaseHolderAction] {
        var actions: [LeaseHolderAction] = []
        if case .holding = state, !mayWrite(at: now) {
            state = .acquiring
            actions.append(.stopWriting(.leaseExpired))
        }
        if isAsking, let due = nextRenewal, now >= due {
            actions.append(.sendRequests(makeRequest(now: now)))
        }
        // A grant for a request older than a lease could no longer let anyone write.
        sentAt = sentAt.filter { now - $0.value < settings.leaseDuration }
        return actions
    }

    /// Event: the operator asked for a planned switchover to `successor`. Stops taking writes
    /// at once (in-flight ones drain) and keeps renewing until ``drained(now:)``.
    public mutating func beginHandover(to successor: SiteID, now: MonotonicInstant) throws(HandoverRefusal) -> [LeaseHolderAction] {
        guard successor != site, voters.contains(successor) else { throw .unknownSuccessor(successor) }
        guard case .holding = state, mayWrite(at: now) else { throw .notHolding(phase) }
        state = .draining(successor: successor)
        return [.stopWriting(.handover(to: successor))]
    }

    /// Event: the switchover was called off before the lease moved.
    public mutating func abortHandover(now: MonotonicInstant) -> [LeaseHolderAction] {
        guard case .draining = state else { return [] }
        state = .holding
        guard let until = leaseEnd, now < until else {
            state = .acquiring
            return []
        }
        return [.startWriting(epoch: epoch, until: until)]
    }

    /// Event: in-flight writes have drained and the successor confirmed it holds everything.
    /// Gives the lease back; the owner sends the release to every voter and then offers the
    /// tenant to the successor.
    public mutating func drained(now: MonotonicInstant) throws(HandoverRefusal) -> [LeaseHolderAction] {
        guard case .draining(let successor) = state else { throw .notDraining(phase) }
        state = .released(successor: successor)
        return [.release(LeaseRelease(holder: site, epoch: epoch, successor: successor))]
    }

    /// Event: the daemon is shutting down.
    public mutating func stop(now: MonotonicInstant) -> [LeaseHolderAction] {
        let wasWriting = isWriting
        state = .stopped
        return wasWriting ? [.stopWriting(.shutdown)] : []
    }

    private mutating func makeRequest(now: MonotonicInstant) -> LeaseRequest {
        nextSequence += 1
        sentAt[nextSequence] = now
        nextRenewal = now + settings.interval
        return LeaseRequest(holder: site, epoch: epoch,
                            id: LeaseRequestID(incarnation: incarnation, sequence: nextSequence))
    }
}

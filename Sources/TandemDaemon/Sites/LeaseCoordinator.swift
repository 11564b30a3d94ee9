import Foundation
import Logging
import TandemCore
import TandemStore

/// Leases and automatic failover, in force at a near site that has both a twin and a witness
/// (the remote site, or a `witness` peer), and as a voter at the remote site. It drives the
/// pure machines of `TandemCore/Failover` with this process's monotonic clock:
///
/// - for each tenant active here, a ``TandemCore/LeaseHolderMachine`` asks the three voters
///   (this site, the twin, the witness) for the lease every heartbeat interval; backups run
///   and are acknowledged only while a majority backs it;
/// - for each tenant active at the twin, a ``TandemCore/FailoverMachine`` counts the twin's
///   missed heartbeats, asks the witness, waits out the old lease and then takes the tenant
///   over with the next epoch;
/// - every site answers lease requests and takeover questions with a
///   ``TandemCore/LeaseGrantorMachine`` per tenant (it grants nothing for one lease after a
///   restart, so a promise it forgot is still kept).
///
/// Where each tenant is active, and at which epoch, is kept crash-safely in
/// `STATE/placement/TENANT.json`; the policy's `home_site` only seeds it.
actor LeaseCoordinator {
    struct Placement: Codable, Sendable, Equatable {
        var active: String
        var epoch: UInt64
    }

    /// A change the daemon must act on.
    enum Change: Sendable {
        case placement(tenant: String, active: String, epoch: UInt64, cause: PlacementCause)
        /// This site started (`held`) or stopped writing for the tenant under its lease.
        case lease(tenant: String, held: Bool)
    }

    /// Why a tenant's placement changed (what the metrics count).
    enum PlacementCause: String, Sendable {
        /// Read at start-up (or seeded from `home_site`).
        case configured
        /// This site took the tenant over: the active site was silent, the witness agreed.
        case takeover
        /// This site took the tenant in a planned switchover.
        case switchover
        /// This site took the tenant by the operator's forced promotion.
        case forced
        /// This site handed the tenant to its twin in a planned switchover.
        case handedOver = "handed_over"
        /// Another site holds a newer epoch: this site was fenced and is the twin now.
        case fenced
        /// At the witness: it granted the lease to a site at a newer epoch.
        case observed
    }

    let site: SiteID
    let twin: SiteID?
    let witness: SiteID?
    let settings: LeaseSettings
    let records: PlacementRecords
    let logger: Logger
    private let origin = ContinuousClock.now
    var placements: [String: Placement] = [:]
    var grantors: [String: LeaseGrantorMachine] = [:]
    var holders: [String: LeaseHolderMachine] = [:]
    var watchers: [String: FailoverMachine] = [:]
    var outbox: [String: [LinkRequest]] = [:]
    private var lastHoldOff: [String: String] = [:]
    /// Tenants whose active site this site is asking the witness about (logged once).
    private var consulting: Set<String> = []
    let changes: AsyncStream<Change>
    private let changeContinuation: AsyncStream<Change>.Continuation

    /// Whether holders and watchers run here (a near site with a twin and a witness).
    nonisolated var leasesInForce: Bool { twin != nil && witness != nil }

    init(site: String, twin: String?, witness: String?, settings: LeaseSettings, stateDirectory: String, logger: Logger) {
        self.site = SiteID(site)
        self.twin = twin.map { SiteID($0) }
        self.witness = witness.map { SiteID($0) }
        self.settings = settings
        records = PlacementRecords(directory: stateDirectory + "/placement")
        self.logger = logger
        (changes, changeContinuation) = AsyncStream.makeStream(of: Change.self)
    }

    var now: MonotonicInstant { MonotonicInstant(ContinuousClock.now - origin) }

    // MARK: - Tenants

    /// Loads (or seeds from `home_site`) each tenant's placement and starts its machine.
    func configure(tenants: [(name: String, home: String?)]) async {
        for (name, home) in tenants {
            var placement = await records.placement(name)
            if placement == nil, let home {
                placement = Placement(active: home, epoch: Epoch.initial.value)
                try? await records.save(name, placement!)
            }
            guard let placement else { continue }
            placements[name] = placement
            changeContinuation.yield(.placement(tenant: name, active: placement.active, epoch: placement.epoch, cause: .configured))
            guard leasesInForce, holders[name] == nil, watchers[name] == nil else { continue }
            if placement.active == site.name {
                startHolding(name, epoch: Epoch(placement.epoch))
            } else if placement.active == twin?.name {
                watchers[name] = FailoverMachine(site: site, activeSite: SiteID(placement.active), epoch: Epoch(placement.epoch),
                                                 settings: settings, now: now)
            }
        }
    }

    func placement(_ tenant: String) -> Placement? { placements[tenant] }

    /// Whether this site may write for `tenant` now (always, where leases are not in force).
    func mayWrite(_ tenant: String) -> Bool {
        guard leasesInForce else { return true }
        return holders[tenant]?.mayWrite(at: now) ?? false
    }

    /// What `status` shows: the holder's phase and when its lease ends (wall clock).
    func leaseView(_ tenant: String) -> (phase: String?, expires: Date?) {
        guard let holder = holders[tenant] else { return (nil, nil) }
        let end = holder.leaseEnd.map { Date().addingTimeInterval(Double(($0 - now).clampedMilliseconds) / 1000) }
        return (holder.phase.rawValue, holder.mayWrite(at: now) ? end : nil)
    }

    /// At the twin, while the active site is silent: seconds until its old lease has surely
    /// run out, and why this site holds off (nil, nil while the active site is heard).
    func takeoverView(_ tenant: String) -> (inSeconds: Double?, holdOff: String?) {
        let instant = now
        guard let watcher = watchers[tenant], watcher.missedHeartbeats(at: instant) >= 1 else { return (nil, nil) }
        let remaining = max(0, Double((watcher.oldLeaseEnd - instant).clampedMilliseconds) / 1000)
        return (remaining, lastHoldOff[tenant])
    }

    func startHolding(_ tenant: String, epoch: Epoch, forced: OperatorReason? = nil) {
        var holder = LeaseHolderMachine(site: site, voters: Set([site, twin!, witness!]), settings: settings, epoch: epoch,
                                        incarnation: UInt64.random(in: 1...UInt64.max))
        let actions = forced.map { holder.startForced(reason: $0, now: now) } ?? holder.start(now: now)
        holders[tenant] = holder
        perform(actions, tenant: tenant)
    }

    // MARK: - Time

    /// Advances every machine; call a few times per heartbeat interval.
    func tick() async {
        let instant = now
        for tenant in Array(holders.keys) {
            guard var holder = holders[tenant] else { continue }
            let actions = holder.tick(now: instant)
            holders[tenant] = holder
            perform(actions, tenant: tenant)
        }
        for tenant in Array(watchers.keys) {
            guard var watcher = watchers[tenant] else { continue }
            let action = watcher.tick(now: instant)
            watchers[tenant] = watcher
            await perform(action, tenant: tenant)
        }
    }

    // MARK: - Outgoing messages

    /// The requests waiting to go to `peer` (lease requests, takeover questions).
    func outgoing(for peer: String) -> [LinkRequest] {
        let waiting = outbox[peer] ?? []
        outbox[peer] = nil
        return waiting
    }

    /// The answer to a request this site sent to `peer`.
    func delivered(_ response: LinkResponse, to request: LinkRequest, peer: String) async {
        switch request.call {
        case .lease(let lease):
            // A vote counts only from the voter it was asked of (the link's certificate name).
            guard var holder = holders[request.tenant], case .lease(let wire) = response.answer, wire.grantor == peer,
                  let reply = wire.reply(to: lease) else { return }
            let actions: [LeaseHolderAction]
            switch reply {
            case .granted(let grant): actions = holder.grantReceived(grant, now: now)
            case .refused(let refused): actions = holder.refusalReceived(refused, now: now)
            }
            holders[request.tenant] = holder
            perform(actions, tenant: request.tenant)
        case .witness:
            guard var watcher = watchers[request.tenant] else { return }
            let verdict: WitnessVerdict? = if case .verdict(let wire) = response.answer { wire.verdict } else { nil }
            let action = verdict.map { watcher.witnessAnswered($0, now: now) } ?? watcher.witnessUnreachable(now: now)
            watchers[request.tenant] = watcher
            await perform(action, tenant: request.tenant)
        default:
            return
        }
    }

    /// A request to `peer` could not be sent or answered.
    func undelivered(_ request: LinkRequest, peer: String) async {
        guard case .witness = request.call, var watcher = watchers[request.tenant] else { return }
        let action = watcher.witnessUnreachable(now: now)
        watchers[request.tenant] = watcher
        await perform(action, tenant: request.tenant)
    }

    // MARK: - Incoming messages (the voter's answers: LeaseCoordinator+Voter.swift)

    /// A heartbeat (or any message) from `peer`.
    func heard(from peer: String) {
        let instant = now
        let sender = SiteID(peer)
        for tenant in Array(grantors.keys) { grantors[tenant]?.heardFrom(sender, now: instant) }
        for tenant in Array(watchers.keys) where watchers[tenant]?.activeSite == sender {
            guard var watcher = watchers[tenant] else { continue }
            consulting.remove(tenant)
            lastHoldOff[tenant] = nil
            _ = watcher.heartbeat(from: sender, epoch: watcher.epoch, active: true, now: instant)
            watchers[tenant] = watcher
        }
    }

    // MARK: - Degraded mode

    /// Whether this site writes for `tenant` by forced promotion (without a majority).
    func isForced(_ tenant: String) -> Bool { holders[tenant]?.phase == .forced }

    /// The record asking the witness to mark the twin outdated (or caught up) for `tenant`,
    /// when this site holds the tenant's lease; nil otherwise.
    func outdateRecord(_ tenant: String) -> OutdateRequest? {
        guard leasesInForce, let twin, let holder = holders[tenant], holder.mayWrite(at: now) else { return nil }
        return OutdateRequest(holder: site, epoch: holder.epoch, twin: twin)
    }

    // MARK: - Planned switchover and forced promotion: LeaseCoordinator+Handover.swift

    // MARK: - Actions

    func perform(_ actions: [LeaseHolderAction], tenant: String) {
        for action in actions {
            switch action {
            case .sendRequests(let request):
                // This site's own vote, at once.
                let instant = now
                var grantor = grantors[tenant] ?? LeaseGrantorMachine(
                    site: site, settings: settings, startedAt: instant,
                    newest: placements[tenant].map { EpochOwnership(epoch: Epoch($0.epoch), owner: SiteID($0.active)) })
                let reply = grantor.request(request, now: instant)
                grantors[tenant] = grantor
                for peer in [twin, witness].compactMap({ $0 }) {
                    outbox[peer.name, default: []].append(LinkRequest(.lease(request), tenant: tenant))
                }
                if var holder = holders[tenant] {
                    let more: [LeaseHolderAction]
                    switch reply {
                    case .granted(let grant): more = holder.grantReceived(grant, now: instant)
                    case .refused(let refused): more = holder.refusalReceived(refused, now: instant)
                    }
                    holders[tenant] = holder
                    perform(more, tenant: tenant)
                }
            case .startWriting(let epoch, _):
                logger.notice("lease held: this site writes for the tenant", metadata: ["tenant": "\(tenant)", "epoch": "\(epoch.value)"])
                changeContinuation.yield(.lease(tenant: tenant, held: true))
            case .stopWriting(let reason):
                logger.warning("lease lost: this site stops writing for the tenant", metadata: ["tenant": "\(tenant)", "why": "\(reason)"])
                changeContinuation.yield(.lease(tenant: tenant, held: false))
            case .fenced(let epoch, let owner):
                logger.warning("fenced: another site holds a newer epoch; this site is now the tenant's twin",
                               metadata: ["tenant": "\(tenant)", "epoch": "\(epoch.value)", "owner": "\(owner.name)"])
                holders[tenant] = nil
                changeContinuation.yield(.lease(tenant: tenant, held: false))
                Task { await self.move(tenant, to: Placement(active: owner.name, epoch: epoch.value), cause: .fenced) }
            case .release:
                break
            }
        }
    }

    func perform(_ action: FailoverAction, tenant: String) async {
        switch action {
        case .none:
            return
        case .consultWitness(let active, let epoch):
            guard let witness else { return }
            outbox[witness.name, default: []].append(LinkRequest(.witness(asking: site, epoch: epoch), tenant: tenant))
            if consulting.insert(tenant).inserted {
                logger.warning("the active site is silent; asking the witness", metadata: ["tenant": "\(tenant)", "active": "\(active.name)"])
            }
        case .holdOff(let refusal):
            var text = "\(refusal)"
            if case .oldLeaseNotExpired(let until) = refusal {
                // The machine's instants are this process's monotonic clock: say how long instead.
                text = "the old lease may be in use for another \(String(format: "%.1f", Double((until - now).clampedMilliseconds) / 1000)) s"
            }
            if lastHoldOff[tenant] != text {
                lastHoldOff[tenant] = text
                logger.notice("not taking over yet", metadata: ["tenant": "\(tenant)", "why": "\(text)"])
            }
        case .promote(let promotion):
            logger.critical("taking the tenant over", metadata: ["tenant": "\(tenant)", "from": "\(promotion.previousSite.name)",
                                                                 "epoch": "\(promotion.epoch.value)"])
            watchers[tenant] = nil
            let cause: PlacementCause = switch promotion.cause {
            case .failover: .takeover
            case .switchover: .switchover
            case .forced: .forced
            }
            await move(tenant, to: Placement(active: site.name, epoch: promotion.epoch.value), cause: cause)
        case .divergenceDetected(let report):
            logger.critical("divergent histories", metadata: ["tenant": "\(tenant)", "report": "\(report)"])
        }
    }

    /// Records a new placement durably, then starts the machine for this site's new role.
    func move(_ tenant: String, to placement: Placement, cause: PlacementCause, forced: OperatorReason? = nil) async {
        guard placements[tenant] != placement else { return }
        do {
            try await records.save(tenant, placement)
        } catch {
            logger.critical("cannot record the tenant's placement; staying as it was", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            return
        }
        placements[tenant] = placement
        changeContinuation.yield(.placement(tenant: tenant, active: placement.active, epoch: placement.epoch, cause: cause))
        if placement.active == site.name {
            startHolding(tenant, epoch: Epoch(placement.epoch), forced: forced)
        } else if leasesInForce {
            holders[tenant] = nil
            watchers[tenant] = FailoverMachine(site: site, activeSite: SiteID(placement.active), epoch: Epoch(placement.epoch),
                                               settings: settings, now: now)
        }
    }

}

extension Duration {
    var clampedMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

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
        case placement(tenant: String, active: String, epoch: UInt64)
    }

    let site: SiteID
    let twin: SiteID?
    let witness: SiteID?
    let settings: LeaseSettings
    private let store: LocalBackend
    private let logger: Logger
    private let origin = ContinuousClock.now
    private var placements: [String: Placement] = [:]
    private var grantors: [String: LeaseGrantorMachine] = [:]
    private var holders: [String: LeaseHolderMachine] = [:]
    private var watchers: [String: FailoverMachine] = [:]
    private var outbox: [String: [LinkRequest]] = [:]
    private var lastHoldOff: [String: String] = [:]
    /// Tenants whose active site this site is asking the witness about (logged once).
    private var consulting: Set<String> = []
    let changes: AsyncStream<Change>
    private let changeContinuation: AsyncStream<Change>.Continuation

    /// Whether holders and watchers run here (a near site with a twin and a witness).
    var leasesInForce: Bool { twin != nil && witness != nil }

    init(site: String, twin: String?, witness: String?, settings: LeaseSettings, stateDirectory: String, logger: Logger) {
        self.site = SiteID(site)
        self.twin = twin.map { SiteID($0) }
        self.witness = witness.map { SiteID($0) }
        self.settings = settings
        store = LocalBackend(root: stateDirectory + "/placement")
        self.logger = logger
        (changes, changeContinuation) = AsyncStream.makeStream(of: Change.self)
    }

    var now: MonotonicInstant { MonotonicInstant(ContinuousClock.now - origin) }

    // MARK: - Tenants

    /// Loads (or seeds from `home_site`) each tenant's placement and starts its machine.
    func configure(tenants: [(name: String, home: String?)]) async {
        for (name, home) in tenants {
            var placement = await load(name)
            if placement == nil, let home {
                placement = Placement(active: home, epoch: Epoch.initial.value)
                try? await save(name, placement!)
            }
            guard let placement else { continue }
            placements[name] = placement
            changeContinuation.yield(.placement(tenant: name, active: placement.active, epoch: placement.epoch))
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

    private func startHolding(_ tenant: String, epoch: Epoch, forced: OperatorReason? = nil) {
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
            guard var holder = holders[request.tenant], response.lease?.grantor == peer,
                  let reply = response.lease?.reply(to: lease) else { return }
            let actions: [LeaseHolderAction]
            switch reply {
            case .granted(let grant): actions = holder.grantReceived(grant, now: now)
            case .refused(let refused): actions = holder.refusalReceived(refused, now: now)
            }
            holders[request.tenant] = holder
            perform(actions, tenant: request.tenant)
        case .witness:
            guard var watcher = watchers[request.tenant] else { return }
            let action = response.verdict?.verdict.map { watcher.witnessAnswered($0, now: now) } ?? watcher.witnessUnreachable(now: now)
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

    // MARK: - Incoming messages

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

    /// This site's voter for `tenant`, created on first use: it grants nothing for one lease
    /// (it may have forgotten a promise), starts from the newest epoch it knows, and keeps the
    /// twins it recorded outdated (`STATE/placement/TENANT.outdated.json`).
    private func grantor(_ tenant: String) async -> LeaseGrantorMachine {
        if let grantor = grantors[tenant] { return grantor }
        var outdated: [SiteID: Epoch] = [:]
        if let bytes = try? await store.read("\(tenant).outdated.json"),
           let saved = try? ControlJSON.decoder().decode([String: UInt64].self, from: Data(bytes)) {
            for (site, epoch) in saved { outdated[SiteID(site)] = Epoch(epoch) }
        }
        let grantor = LeaseGrantorMachine(
            site: site, settings: settings, startedAt: now,
            newest: placements[tenant].map { EpochOwnership(epoch: Epoch($0.epoch), owner: SiteID($0.active)) }, outdated: outdated)
        grantors[tenant] = grantor
        return grantor
    }

    private func saveOutdated(_ tenant: String, _ outdated: [SiteID: Epoch]) async throws {
        let map = Dictionary(uniqueKeysWithValues: outdated.map { ($0.key.name, $0.value.value) })
        try await store.write("\(tenant).outdated.json", Array(try ControlJSON.encoder(pretty: true).encode(map)), overwrite: true)
    }

    /// Answers a placement request from `peer`: `lease`, `witness`, `release`, `outdate` and
    /// `clearOutdated` as this site's voter, `handover` as the successor.
    func answer(_ request: LinkRequest, from peer: String) async -> LinkResponse {
        if case .handover(let release) = request.call { return await handoverOffered(release, request: request, from: peer) }
        let instant = now
        var grantor = await grantor(request.tenant)
        defer { grantors[request.tenant] = grantor }
        switch request.call {
        case .lease(let lease):
            guard lease.holder == SiteID(peer) else {
                return LinkResponse(id: request.id, ok: false, error: "a lease request must come from its holder")
            }
            var response = LinkResponse(id: request.id, ok: true)
            response.lease = LeaseWireReply(grantor.request(lease, now: instant))
            return response
        case .witness(let asking, _):
            guard asking == SiteID(peer) else {
                return LinkResponse(id: request.id, ok: false, error: "a takeover question must come from the site asking")
            }
            var response = LinkResponse(id: request.id, ok: true)
            response.verdict = WitnessWireVerdict(grantor.takeoverVerdict(requester: SiteID(peer), now: instant))
            return response
        case .outdate(let outdate), .clearOutdated(let outdate):
            let clearing = request.operation == .clearOutdated
            guard outdate.holder == SiteID(peer) else {
                return LinkResponse(id: request.id, ok: false, error: "an outdate record must come from the active site")
            }
            // At the twin itself: the active site says it holds everything again (or not).
            if outdate.twin == site, var watcher = watchers[request.tenant], watcher.activeSite == outdate.holder {
                if clearing { watcher.caughtUp() } else { watcher.markedOutdated(since: outdate.epoch) }
                watchers[request.tenant] = watcher
                return LinkResponse(id: request.id, ok: true)
            }
            let before = grantor.outdated
            let refusal: OutdateRefusal?
            if !clearing {
                if case .failure(let why) = grantor.recordOutdated(outdate, now: instant) { refusal = why } else { refusal = nil }
            } else {
                if case .failure(let why) = grantor.clearOutdated(outdate, now: instant) { refusal = why } else { refusal = nil }
            }
            if let refusal { return LinkResponse(id: request.id, ok: false, error: "\(refusal)") }
            // Durable before the answer: a restarted witness must still refuse the stale twin.
            if grantor.outdated != before {
                do { try await saveOutdated(request.tenant, grantor.outdated) } catch {
                    grantor = LeaseGrantorMachine(site: site, settings: settings, startedAt: instant)
                    return LinkResponse(id: request.id, ok: false, error: "cannot record it durably: \(error)")
                }
            }
            logger.notice(clearing ? "twin no longer outdated" : "twin recorded outdated",
                          metadata: ["tenant": "\(request.tenant)", "twin": "\(outdate.twin.name)", "epoch": "\(outdate.epoch.value)"])
            return LinkResponse(id: request.id, ok: true)
        case .release(let release):
            guard release.holder == SiteID(peer) else {
                return LinkResponse(id: request.id, ok: false, error: "a release must come from its holder")
            }
            _ = grantor.release(release, now: instant)
            return LinkResponse(id: request.id, ok: true)
        default:
            return LinkResponse(id: request.id, ok: false, error: "not a lease operation: \(request.operation.rawValue)")
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

    // MARK: - Planned switchover and forced promotion

    /// Why a lease operation was refused.
    struct Refused: Error, CustomStringConvertible {
        let description: String
    }

    /// Switchover, step 1 at the active site: stop taking writes for `tenant` (renewing the
    /// lease meanwhile) so that in-flight work drains and the successor can be synced.
    func beginHandover(_ tenant: String, to successor: String) throws {
        guard leasesInForce else { throw Refused(description: "leases are not in force at this site (it needs a twin and a witness)") }
        guard var holder = holders[tenant] else { throw Refused(description: "this site is not the active site of \(tenant)") }
        do {
            let actions = try holder.beginHandover(to: SiteID(successor), now: now)
            holders[tenant] = holder
            perform(actions, tenant: tenant)
        } catch {
            throw Refused(description: "\(error)")
        }
    }

    /// Switchover called off: writes resume if the lease still holds.
    func abortHandover(_ tenant: String) {
        guard var holder = holders[tenant] else { return }
        let actions = holder.abortHandover(now: now)
        holders[tenant] = holder
        perform(actions, tenant: tenant)
    }

    /// Switchover, step 2: everything drained and synced; gives the lease back. Returns the
    /// release to offer the successor (the voters hear of it too).
    func drained(_ tenant: String) throws -> LeaseRelease {
        guard var holder = holders[tenant] else { throw Refused(description: "this site is not the active site of \(tenant)") }
        let actions: [LeaseHolderAction]
        do { actions = try holder.drained(now: now) } catch { throw Refused(description: "\(error)") }
        holders[tenant] = holder
        for case .release(let release) in actions {
            _ = grantors[tenant]?.release(release, now: now)
            if let witness { outbox[witness.name, default: []].append(LinkRequest(.release(release), tenant: tenant)) }
            return release
        }
        throw Refused(description: "the lease holder gave nothing back")
    }

    /// Switchover, step 3: the successor took the tenant at `epoch`; this site is its twin now.
    func handedOver(_ tenant: String, to successor: String, epoch: UInt64) async {
        holders[tenant] = nil
        await move(tenant, to: Placement(active: successor, epoch: epoch))
    }

    /// At the successor: the active site offers the tenant (after releasing the lease).
    /// Returns the new epoch this site now holds.
    private func handoverOffered(_ release: LeaseRelease, request: LinkRequest, from peer: String) async -> LinkResponse {
        guard release.holder == SiteID(peer), release.successor == site else {
            return LinkResponse(id: request.id, ok: false, error: "a handover must come from the holder and name this site")
        }
        _ = grantors[request.tenant]?.release(release, now: now)
        guard var watcher = watchers[request.tenant] else {
            return LinkResponse(id: request.id, ok: false, error: "site \(site.name) is not watching \(request.tenant) as its twin")
        }
        do {
            let action = try watcher.handoverOffered(release, now: now)
            watchers[request.tenant] = watcher
            await perform(action, tenant: request.tenant)
            var response = LinkResponse(id: request.id, ok: true)
            response.epoch = placements[request.tenant]?.epoch
            return response
        } catch {
            return LinkResponse(id: request.id, ok: false, error: "\(error)")
        }
    }

    /// At the twin, by the operator when the active site and the witness are both gone:
    /// takes the tenant over at the next epoch without a majority. Both histories are kept.
    func forcePromotion(_ tenant: String, reason: String) async throws -> (epoch: UInt64, divergence: String) {
        guard var watcher = watchers[tenant] else {
            throw Refused(description: "site \(site.name) is not the twin of \(tenant) (or leases are not in force here)")
        }
        let action: FailoverAction
        do { action = try watcher.forcePromotion(reason: reason, now: now) } catch { throw Refused(description: "\(error)") }
        watchers[tenant] = watcher
        guard case .promote(let promotion) = action, case .forced(let report) = promotion.cause else {
            throw Refused(description: "the promotion did not happen")
        }
        logger.critical("forced promotion", metadata: ["tenant": "\(tenant)", "epoch": "\(promotion.epoch.value)", "reason": "\(reason)"])
        watchers[tenant] = nil
        await move(tenant, to: Placement(active: site.name, epoch: promotion.epoch.value), forced: OperatorReason(reason))
        return (promotion.epoch.value, report.description)
    }

    // MARK: - Actions

    private func perform(_ actions: [LeaseHolderAction], tenant: String) {
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
            case .stopWriting(let reason):
                logger.warning("lease lost: this site stops writing for the tenant", metadata: ["tenant": "\(tenant)", "why": "\(reason)"])
            case .fenced(let epoch, let owner):
                logger.warning("fenced: another site holds a newer epoch; this site is now the tenant's twin",
                               metadata: ["tenant": "\(tenant)", "epoch": "\(epoch.value)", "owner": "\(owner.name)"])
                holders[tenant] = nil
                Task { await self.move(tenant, to: Placement(active: owner.name, epoch: epoch.value)) }
            case .release:
                break
            }
        }
    }

    private func perform(_ action: FailoverAction, tenant: String) async {
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
            await move(tenant, to: Placement(active: site.name, epoch: promotion.epoch.value))
        case .divergenceDetected(let report):
            logger.critical("divergent histories", metadata: ["tenant": "\(tenant)", "report": "\(report)"])
        }
    }

    /// Records a new placement durably, then starts the machine for this site's new role.
    private func move(_ tenant: String, to placement: Placement, forced: OperatorReason? = nil) async {
        guard placements[tenant] != placement else { return }
        do {
            try await save(tenant, placement)
        } catch {
            logger.critical("cannot record the tenant's placement; staying as it was", metadata: ["tenant": "\(tenant)", "error": "\(error)"])
            return
        }
        placements[tenant] = placement
        changeContinuation.yield(.placement(tenant: tenant, active: placement.active, epoch: placement.epoch))
        if placement.active == site.name {
            startHolding(tenant, epoch: Epoch(placement.epoch), forced: forced)
        } else if leasesInForce {
            holders[tenant] = nil
            watchers[tenant] = FailoverMachine(site: site, activeSite: SiteID(placement.active), epoch: Epoch(placement.epoch),
                                               settings: settings, now: now)
        }
    }

    private func load(_ tenant: String) async -> Placement? {
        guard let bytes = try? await store.read("\(tenant).json") else { return nil }
        return try? ControlJSON.decoder().decode(Placement.self, from: Data(bytes))
    }

    private func save(_ tenant: String, _ placement: Placement) async throws {
        try await store.write("\(tenant).json", Array(try ControlJSON.encoder(pretty: true).encode(placement)), overwrite: true)
    }
}

extension Duration {
    var clampedMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

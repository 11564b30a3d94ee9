import Foundation
import Logging
import TandemCore
import TandemPolicy
import TandemSites
import TandemStore

/// The twin mirror at a near site. A tenant is active at its `home_site`; there every
/// committed snapshot is sent to the twin (only the packs it lacks, then the settings, key
/// slots and manifest, then `complete`, each write tagged with the tenant's epoch) before the
/// backup is reported committed. The twin stores what verifies, behind an epoch fence. A
/// snapshot the twin could not take stays queued (`STATE/twin/`) and is caught up by set
/// reconciliation when the twin returns.
extension Daemon {
    /// The site where `policy`'s tenant is active: its `home_site`, else this near site.
    func activeSite(_ policy: TenantPolicy) -> String? {
        placement.activeSite(of: policy, site: policies.site)
    }

    /// Whether the tenant runs its schedules and takes writes here.
    func isActiveHere(_ policy: TenantPolicy) -> Bool {
        policies.site.role == .near && activeSite(policy) == policies.site.siteName
    }

    /// The twin peer's name, if this site has one.
    var twinName: String? { policies.site.peers.first { $0.role == .twin }?.name }

    func setCoordinator(_ coordinator: LeaseCoordinator, witness: PeerClient?) {
        placement.coordinator = coordinator
        mirroring.witness = witness
        mirroring.maybeOutdated = Set(policies.tenants.filter(isActiveHere).map(\.tenant))
    }

    /// Degraded mode (`twin: preferred`): before this site acknowledges a snapshot the twin
    /// lacks, the witness records the twin outdated, so the twin cannot take the tenant over
    /// without it. Nil when recorded (or when leases are not in force), else why not.
    func recordTwinOutdated(_ tenant: String) async -> String? {
        guard let coordinator = placement.coordinator, let witnessLink = mirroring.witness else { return nil }
        // Forced promotion: the operator accepted divergence; there is no majority to tell.
        if await coordinator.isForced(tenant) { return nil }
        guard let record = await coordinator.outdateRecord(tenant) else {
            return coordinator.leasesInForce ? "this site does not hold the tenant's lease" : nil
        }
        do {
            let answer = try await witnessLink.send(LinkRequest(.outdate(record), tenant: tenant))
            if let refusal = answer.refusal { return "the witness refused to record the twin outdated: \(refusal)" }
        } catch {
            return "the witness could not be reached to record the twin outdated: \(error)"
        }
        mirroring.maybeOutdated.insert(tenant)
        mirroring.recordedOutdated.insert(tenant)
        return nil
    }

    /// After a resync round: the witness forgets the outdated mark of every twin that holds
    /// everything again.
    func clearTwinOutdated() async {
        guard let coordinator = placement.coordinator, let witnessLink = mirroring.witness, let twinMirror = mirroring.shipper else { return }
        for tenant in mirroring.maybeOutdated.sorted() {
            let queue = await twinMirror.queue(tenant)
            guard queue.pending.isEmpty, queue.lastError == nil, let record = await coordinator.outdateRecord(tenant) else { continue }
            // The witness forgets the mark, and the twin hears it too, so it may take over again
            // when it must; both must answer, or the next round tries again.
            let clear = LinkRequest(.clearOutdated(record), tenant: tenant)
            if let answer = try? await witnessLink.send(clear), answer.ok, let told = try? await twinMirror.client.send(clear), told.ok {
                mirroring.maybeOutdated.remove(tenant)
                mirroring.recordedOutdated.remove(tenant)
                logger.notice("the twin holds everything again; the witness cleared its outdated mark", metadata: ["tenant": "\(tenant)"])
            }
        }
    }

    func setReceiver(_ receiver: RemoteReceiver) {
        mirroring.receiver = receiver
    }

    func setTwin(_ mirror: Shipper?, fence: MirrorFence) async {
        mirroring.shipper = mirror
        placement.fence = fence
        // An active tenant starts at epoch 1; takeovers move it up.
        for policy in policies.tenants where isActiveHere(policy) {
            if await fence.current(policy.tenant) == 0 { try? await fence.raise(policy.tenant, to: Epoch.initial.value) }
        }
    }

    /// The tenant's epoch at this site (nil: no fence, so no twin).
    func epoch(of tenant: String) async -> UInt64? {
        if let epoch = placement.epochs[tenant] { return epoch }
        guard let fence = placement.fence else { return nil }
        let value = await fence.current(tenant)
        return value == 0 ? nil : value
    }

    /// Sends a just-committed snapshot to the twin and waits for it to hold it. With
    /// `twin: required` it keeps trying for one lease, then gives up; with `preferred` one
    /// attempt. Returns nil when the twin holds the snapshot, else why not.
    func mirrorToTwin(_ policy: TenantPolicy, snapshot: String, time: Date, source: String?, packs: Set<String>?,
                      logger log: Logger) async -> String? {
        guard let twinMirror = mirroring.shipper, let twin = twinName else { return nil }
        do {
            try await twinMirror.committed(tenant: policy.tenant, snapshot: snapshot, time: time, now: clock.now(), source: source,
                                           packs: packs)
        } catch {
            return "cannot queue the snapshot for the twin: \(error)"
        }
        let patience: Duration = policy.twin == .required ? .seconds(policies.site.heartbeat.lease) : .zero
        let deadline = ContinuousClock.now + patience
        let clock = self.clock
        while true {
            let (delivered, error) = await twinMirror.deliver(tenant: policy.tenant, snapshot: snapshot, now: { clock.now() })
            if delivered {
                log.info("the twin holds the snapshot", metadata: ["twin": "\(twin)", "snapshot": "\(snapshot.prefix(12))"])
                return nil
            }
            if ContinuousClock.now >= deadline || Task.isCancelled {
                return "the twin \(twin) does not hold snapshot \(snapshot.prefix(12)): \(error ?? "unknown")"
            }
            log.warning("waiting for the twin", metadata: ["twin": "\(twin)", "error": "\(error ?? "")"])
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// The coordinator moved a tenant: this site became its active site (raise the fence to
    /// the new epoch, so the old site's late writes are refused, and let the scheduler look)
    /// or its twin.
    func placementChanged(tenant: String, active: String, epoch: UInt64, cause: LeaseCoordinator.PlacementCause = .configured) async {
        metrics.placementChanged(tenant: tenant, cause: cause)
        let before = placement.activeSites[tenant]
        placement.activeSites[tenant] = active
        placement.epochs[tenant] = epoch
        try? await placement.fence?.raise(tenant, to: epoch)
        // While the tenant was active here its repository changed under the mirror's caches.
        if before != active { await mirroring.receiver?.invalidate(tenant) }
        if before != nil, before != active {
            logger.notice("tenant moved", metadata: ["tenant": "\(tenant)", "active": "\(active)", "epoch": "\(epoch)"])
            await record(actor: "tandemd", role: "daemon", action: "placement", tenant: tenant,
                         detail: "active=\(active) epoch=\(epoch) previous=\(before ?? "-") cause=\(cause.rawValue)", result: "ok")
        }
        schedules.bell.ring()
    }

    /// The coordinator says this site started or stopped writing for `tenant`: the scheduler
    /// looks again (a schedule that waited for the lease fires now).
    func leaseChanged(tenant: String, held: Bool) {
        if held { placement.writing.insert(tenant) } else { placement.writing.remove(tenant) }
        schedules.bell.ring()
    }

    /// Waits (up to one lease) until this site holds `tenant`'s lease; nil when it may write,
    /// else why not. Always nil where leases are not in force.
    func awaitLease(_ tenant: String) async -> String? {
        guard let coordinator = placement.coordinator, coordinator.leasesInForce else { return nil }
        let deadline = ContinuousClock.now + .seconds(policies.site.heartbeat.lease)
        while ContinuousClock.now < deadline {
            if await coordinator.mayWrite(tenant) { return nil }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return await coordinator.mayWrite(tenant) ? nil
            : "site \(policies.site.siteName) does not hold the lease of tenant \(tenant) (\(await coordinator.leaseView(tenant).phase ?? "not active here")): a majority of the sites must grant it before it writes"
    }

    /// Retention ran here: the shipping queues learn which snapshots are gone and where kept
    /// snapshots' data lives after a repack, and the twin is sent the deletions (it follows
    /// this site's retention; the remote applies its own). Nothing the twin holds is deleted
    /// before the packs replacing it are there (``TandemSites/Shipper/retentionApplied(tenant:forgotten:retired:packsNow:)``).
    func carryRetention(_ policy: TenantPolicy, tenant repo: TenantRepository, forgotten: [String], pruned: PruneReport,
                        logger log: Logger) async {
        let twin = isActiveHere(policy) ? mirroring.shipper : nil
        let peers = [shipping.shipper, twin].compactMap { $0 }
        guard !peers.isEmpty, !forgotten.isEmpty || !pruned.retiredPacks.isEmpty else { return }
        var packsNow: [ShippingQueue.Entry] = []
        if pruned.packsRepacked > 0 {
            do {
                let records = Dictionary(try repo.index.snapshots().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
                for (id, packs) in try await repo.packsReferencedBySnapshot() {
                    guard let record = records[id] else { continue }
                    packsNow.append(ShippingQueue.Entry(snapshot: id, time: record.time, committedAt: record.time, source: record.source,
                                                        packs: packs.sorted()))
                }
            } catch {
                // The twin keeps every pack its own records still name, so this costs space there, not data.
                log.error("cannot tell where kept snapshots' data lives after the repack; the twin keeps the old packs",
                          metadata: ["error": "\(Self.describe(error))"])
            }
        }
        for peer in peers {
            do {
                try await peer.retentionApplied(tenant: policy.tenant, forgotten: forgotten, retired: pruned.retiredPacks, packsNow: packsNow)
            } catch {
                log.error("cannot queue retention for a peer", metadata: ["error": "\(error)"])
            }
        }
        if twin != nil { mirroring.bell.ring() }
    }

    /// Fills the twin fields of a tenant's status.
    func describeTwin(_ policy: TenantPolicy, into item: inout TenantStatus) async {
        item.activeSite = activeSite(policy)
        item.epoch = await epoch(of: policy.tenant)
        if let coordinator = placement.coordinator {
            let lease = await coordinator.leaseView(policy.tenant)
            item.leaseExpires = lease.expires
            item.leaseRemainingSeconds = lease.expires.map { max(0, ($0.timeIntervalSince(Date()) * 10).rounded() / 10) }
            let takeover = await coordinator.takeoverView(policy.tenant)
            item.takeoverInSeconds = takeover.inSeconds.map { ($0 * 10).rounded() / 10 }
            item.takeoverHoldOff = takeover.holdOff
        }
        guard let twin = twinName else { return }
        let linkUp = placement.peers[twin]?.outgoingUp ?? false
        guard isActiveHere(policy), let twinMirror = mirroring.shipper else {
            // At the twin: it holds what the active site sent; the active site reports the rest.
            item.twinState = linkUp ? .inSync : .unreachable
            return
        }
        let queue = await twinMirror.queue(policy.tenant)
        item.twinPendingSnapshots = queue.pending.count
        // An error from a round that left nothing pending (a refused connection at start-up)
        // is over: the twin holds everything committed here.
        item.twinError = queue.pending.isEmpty ? nil : queue.lastError
        if queue.pending.isEmpty && linkUp {
            item.twinState = .inSync
        } else if mirroring.recordedOutdated.contains(policy.tenant) && !linkUp {
            item.twinState = .outdated
        } else {
            item.twinState = linkUp ? .catchingUp : .unreachable
        }
    }

    /// What this site holds of a tenant active elsewhere (a twin's mirror, the remote's
    /// copies): its packs' bytes and its snapshots, read from the store, since this site's
    /// index describes only what it wrote itself. Nil where the tenant is active.
    func heldHere(_ policy: TenantPolicy) async -> (stored: Int64, snapshots: Int)? {
        guard !isActiveHere(policy) else { return nil }
        let stored: Int64
        if let receiver = mirroring.receiver, let bytes = try? await receiver.storedBytes(policy.tenant) {
            stored = bytes
        } else {
            stored = (try? index(for: policy.tenant)?.packs().values.reduce(Int64(0)) { $0 + Int64($1) }) ?? 0
        }
        let snapshots = (try? await repository.backend.list(TenantLayout(policy.tenant).snapshots).count) ?? 0
        return (stored, snapshots)
    }

    /// Tenants active at this site.
    func activeTenantNames() -> [String] { policies.tenants.filter(isActiveHere).map(\.tenant) }

    func publishTwinMetrics() async {
        guard let twinMirror = mirroring.shipper, let twin = twinName else { return }
        let linkUp = placement.peers[twin]?.outgoingUp ?? false
        for policy in policies.tenants {
            guard isActiveHere(policy) else {
                // At the twin, as its status says: it holds what the active site sent.
                metrics.twin(tenant: policy.tenant, pending: 0, pendingBytes: 0, inSync: linkUp)
                continue
            }
            let queue = await twinMirror.queue(policy.tenant)
            metrics.twin(tenant: policy.tenant, pending: queue.pending.count, pendingBytes: queue.pendingBytes,
                         inSync: queue.pending.isEmpty && linkUp)
        }
    }
}

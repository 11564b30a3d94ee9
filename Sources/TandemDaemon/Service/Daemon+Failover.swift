import Foundation
import TandemCore
import TandemPolicy
import TandemSites

extension Daemon {
    /// `failover`: moves a tenant to the other near site.
    ///
    /// - Planned switchover (at the active site): stop taking writes, let running jobs end,
    ///   send the twin everything it lacks, give the lease back, offer the tenant to the twin,
    ///   which takes it at the next epoch; this site becomes the twin. Nothing acknowledged is
    ///   lost. On any failure before the offer is taken, writes resume here.
    /// - Forced promotion (`force`, at the twin, with a reason): when the active site and the
    ///   witness are both gone, this site takes the tenant at the next epoch without a
    ///   majority. Both histories are kept; the divergence is reported and audited.
    public func failover(tenant: String, request: FailoverRequest, caller: Caller) async throws -> FailoverReport {
        let policy = try policy(tenant)
        guard let coordinator = placement.coordinator, coordinator.leasesInForce, let twin = twinName else {
            throw DaemonError.refused("failover needs leases: site \(policies.site.siteName) must have a twin and a witness peer")
        }
        if request.force { return try await forcePromotion(policy, reason: request.reason, coordinator: coordinator, caller: caller) }
        return try await switchover(policy, request: request, coordinator: coordinator, twin: twin, caller: caller)
    }

    /// Forced promotion, at the twin: the operator's word stands in for the majority that is gone.
    private func forcePromotion(_ policy: TenantPolicy, reason: String?, coordinator: LeaseCoordinator,
                                caller: Caller) async throws -> FailoverReport {
        let tenant = policy.tenant
        let began = ContinuousClock.now
        let from = activeSite(policy) ?? "?"
        guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw DaemonError.badRequest("a forced promotion needs --reason (it is audited)")
        }
        guard !isActiveHere(policy) else { throw DaemonError.refused("\(tenant) is already active here") }
        do {
            let (epoch, divergence) = try await coordinator.forcePromotion(tenant, reason: reason)
            let report = FailoverReport(tenant: tenant, kind: "forced", from: from, to: policies.site.siteName, epoch: epoch,
                                        seconds: (ContinuousClock.now - began) / .seconds(1), snapshotsSynced: 0, divergence: divergence)
            await record(actor: caller.actor, role: caller.roleName, action: "failover", tenant: tenant,
                         detail: "forced to=\(policies.site.siteName) epoch=\(epoch) reason=\(reason)", result: "ok: \(divergence)")
            return report
        } catch {
            await record(actor: caller.actor, role: caller.roleName, action: "failover", tenant: tenant,
                         detail: "forced reason=\(reason)", result: "refused: \(error)")
            throw DaemonError.refused("no forced promotion: \(error)")
        }
    }

    /// Planned switchover, at the active site: drain, sync the twin, hand the lease over.
    private func switchover(_ policy: TenantPolicy, request: FailoverRequest, coordinator: LeaseCoordinator, twin: String,
                            caller: Caller) async throws -> FailoverReport {
        let tenant = policy.tenant
        let began = ContinuousClock.now
        let from = activeSite(policy) ?? "?"
        if request.back, policy.homeSite == policies.site.siteName || policy.homeSite == nil {
            throw DaemonError.refused("\(tenant) is at its home site \(policies.site.siteName) already")
        }
        let to = request.back ? (policy.homeSite ?? twin) : (request.to ?? twin)
        guard isActiveHere(policy) else {
            throw DaemonError.refused("\(tenant) is active at \(from), not here: run the switchover there (or --force at the twin when that site is gone)")
        }
        guard to == twin, let twinMirror = mirroring.shipper else { throw DaemonError.badRequest("\(tenant) can move only to this site's twin \(twin), not '\(to)'") }
        do {
            try await coordinator.beginHandover(tenant, to: to)
        } catch {
            throw DaemonError.refused("no switchover: \(error)")
        }
        do {
            // Drain: the tenant's running jobs end (new ones wait for a lease and fail).
            guard await waitForJobsToEnd(tenant, within: .seconds(600)) else {
                throw DaemonError.busy("the tenant's running jobs did not end within 10 minutes")
            }
            // Sync: the twin must hold every snapshot committed here.
            let pending = await twinMirror.queue(tenant).pending.count
            let clock = self.clock
            _ = await twinMirror.shipAll(tenants: [tenant], now: { clock.now() })
            let left = await twinMirror.queue(tenant)
            guard left.pending.isEmpty else {
                throw DaemonError.busy("the twin does not hold \(left.pending.count) snapshot(s): \(left.lastError ?? "unknown")")
            }
            let release = try await coordinator.drained(tenant)
            let answer = try await twinMirror.client.send(LinkRequest(.handover(release), tenant: tenant))
            guard case .handedOver(let epoch) = answer.answer else {
                throw DaemonError.busy("\(to) did not take the tenant: \(answer.refusal ?? "it answered \(answer.answer.kind), not the epoch it holds")")
            }
            await coordinator.handedOver(tenant, to: to, epoch: epoch)
            let report = FailoverReport(tenant: tenant, kind: "switchover", from: policies.site.siteName, to: to, epoch: epoch,
                                        seconds: (ContinuousClock.now - began) / .seconds(1), snapshotsSynced: pending, divergence: nil)
            await record(actor: caller.actor, role: caller.roleName, action: "failover", tenant: tenant,
                         detail: "switchover to=\(to) epoch=\(epoch) synced=\(pending)", result: "ok")
            return report
        } catch {
            await coordinator.abortHandover(tenant)
            await record(actor: caller.actor, role: caller.roleName, action: "failover", tenant: tenant, detail: "switchover to=\(to)",
                         result: "failed: \(Self.describe(error))")
            throw error
        }
    }
}

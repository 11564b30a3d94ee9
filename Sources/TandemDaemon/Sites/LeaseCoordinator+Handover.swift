import Foundation
import TandemCore

/// Planned switchover (the active site hands the lease to its twin in three steps) and forced
/// promotion (the twin takes over without a majority, on the operator's word).
extension LeaseCoordinator {
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
        await move(tenant, to: Placement(active: successor, epoch: epoch), cause: .handedOver)
    }

    /// At the successor: the active site offers the tenant (after releasing the lease).
    /// Returns the new epoch this site now holds.
    func handoverOffered(_ release: LeaseRelease, request: LinkRequest, from peer: String) async -> LinkResponse {
        guard release.holder == SiteID(peer), release.successor == site else {
            return LinkResponse.refused(id: request.id, "a handover must come from the holder and name this site")
        }
        _ = grantors[request.tenant]?.release(release, now: now)
        guard var watcher = watchers[request.tenant] else {
            return LinkResponse.refused(id: request.id, "site \(site.name) is not watching \(request.tenant) as its twin")
        }
        do {
            let action = try watcher.handoverOffered(release, now: now)
            watchers[request.tenant] = watcher
            await perform(action, tenant: request.tenant)
            guard let epoch = placements[request.tenant]?.epoch else {
                return LinkResponse.refused(id: request.id, "site \(site.name) took \(request.tenant) over but records no placement for it")
            }
            return LinkResponse(id: request.id, .handedOver(epoch: epoch))
        } catch {
            return LinkResponse.refused(id: request.id, "\(error)")
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
        await move(tenant, to: Placement(active: site.name, epoch: promotion.epoch.value), cause: .forced, forced: OperatorReason(reason))
        return (promotion.epoch.value, report.description)
    }
}

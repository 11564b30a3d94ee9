import Foundation
import TandemCore

/// Every site's voter: answers lease requests, takeover questions, releases and outdated
/// records for each tenant with a ``TandemCore/LeaseGrantorMachine``, and the successor's side
/// of a handover.
extension LeaseCoordinator {
    /// This site's voter for `tenant`, created on first use: it grants nothing for one lease
    /// (it may have forgotten a promise), starts from the newest epoch it knows, and keeps the
    /// twins it recorded outdated (`STATE/placement/TENANT.outdated.json`).
    func grantor(_ tenant: String) async -> LeaseGrantorMachine {
        if let grantor = grantors[tenant] { return grantor }
        let outdated = await records.outdated(tenant)
        let grantor = LeaseGrantorMachine(
            site: site, settings: settings, startedAt: now,
            newest: placements[tenant].map { EpochOwnership(epoch: Epoch($0.epoch), owner: SiteID($0.active)) }, outdated: outdated)
        grantors[tenant] = grantor
        return grantor
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
                return LinkResponse.refused(id: request.id, "a lease request must come from its holder")
            }
            let reply = grantor.request(lease, now: instant)
            let response = LinkResponse(id: request.id, .lease(LeaseWireReply(reply)))
            // The witness runs no holder or watcher: a lease it grants at a newer epoch is how it
            // learns where the tenant is active now (its `status` and metrics say so).
            if !leasesInForce, case .granted = reply,
               placements[request.tenant].map({ lease.epoch.value > $0.epoch || (lease.epoch.value == $0.epoch && lease.holder.name != $0.active) }) ?? true {
                await move(request.tenant, to: Placement(active: lease.holder.name, epoch: lease.epoch.value), cause: .observed)
            }
            return response
        case .witness(let asking, _):
            guard asking == SiteID(peer) else {
                return LinkResponse.refused(id: request.id, "a takeover question must come from the site asking")
            }
            return LinkResponse(id: request.id, .verdict(WitnessWireVerdict(grantor.takeoverVerdict(requester: SiteID(peer), now: instant))))
        case .outdate(let outdate), .clearOutdated(let outdate):
            let clearing = request.operation == .clearOutdated
            guard outdate.holder == SiteID(peer) else {
                return LinkResponse.refused(id: request.id, "an outdate record must come from the active site")
            }
            // At the twin itself: the active site says it holds everything again (or not).
            if outdate.twin == site, var watcher = watchers[request.tenant], watcher.activeSite == outdate.holder {
                if clearing { watcher.caughtUp() } else { watcher.markedOutdated(since: outdate.epoch) }
                watchers[request.tenant] = watcher
                return LinkResponse(id: request.id, .done)
            }
            let before = grantor.outdated
            let refusal: OutdateRefusal?
            if !clearing {
                if case .failure(let why) = grantor.recordOutdated(outdate, now: instant) { refusal = why } else { refusal = nil }
            } else {
                if case .failure(let why) = grantor.clearOutdated(outdate, now: instant) { refusal = why } else { refusal = nil }
            }
            if let refusal { return LinkResponse.refused(id: request.id, "\(refusal)") }
            // Durable before the answer: a restarted witness must still refuse the stale twin.
            if grantor.outdated != before {
                do { try await records.saveOutdated(request.tenant, grantor.outdated) } catch {
                    grantor = LeaseGrantorMachine(site: site, settings: settings, startedAt: instant)
                    return LinkResponse.refused(id: request.id, "cannot record it durably: \(error)")
                }
            }
            logger.notice(clearing ? "twin no longer outdated" : "twin recorded outdated",
                          metadata: ["tenant": "\(request.tenant)", "twin": "\(outdate.twin.name)", "epoch": "\(outdate.epoch.value)"])
            return LinkResponse(id: request.id, .done)
        case .release(let release):
            guard release.holder == SiteID(peer) else {
                return LinkResponse.refused(id: request.id, "a release must come from its holder")
            }
            _ = grantor.release(release, now: instant)
            return LinkResponse(id: request.id, .done)
        default:
            return LinkResponse.refused(id: request.id, "not a lease operation: \(request.operation.rawValue)")
        }
    }
}

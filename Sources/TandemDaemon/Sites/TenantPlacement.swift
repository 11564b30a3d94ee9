import Foundation
import TandemPolicy
import TandemSites

/// Where each tenant is active and at which epoch, as this site knows it: the lease
/// coordinator that decides it (a near site with a twin and a witness; a voter everywhere),
/// the epoch fence on mirrored writes (a twin), and the health of the heartbeat links to each
/// peer. Owned by the ``Daemon`` actor.
struct TenantPlacement: Sendable {
    /// Leases and failover; nil on a site without peers.
    var coordinator: LeaseCoordinator?
    /// Each tenant's newest epoch known here; at the twin, the fence on mirrored writes.
    var fence: MirrorFence?
    /// Where each tenant is active now, as the coordinator last said.
    var activeSites: [String: String] = [:]
    /// Each tenant's epoch, as the coordinator last said.
    var epochs: [String: UInt64] = [:]
    /// Each peer's heartbeat link, by peer name.
    var peers: [String: PeerState] = [:]
    /// Tenants this site writes for under a lease now (where leases are in force).
    var writing: Set<String> = []

    /// Whether `tenant`'s writes here wait for a lease this site does not hold yet: its
    /// schedules wait rather than fail.
    func awaitsLease(_ tenant: String) -> Bool {
        coordinator?.leasesInForce == true && !writing.contains(tenant)
    }

    /// The site `policy`'s tenant is active at: the coordinator's word, else its home site,
    /// else this site when it is a near site without a say from anyone.
    func activeSite(of policy: TenantPolicy, site: SiteConfig) -> String? {
        activeSites[policy.tenant] ?? policy.homeSite ?? (site.role == .near ? site.siteName : nil)
    }
}

/// A heartbeat link's health, for `status` and the logs.
struct PeerState: Sendable {
    var lastHeartbeat: Date?
    var outgoingUp = false
    var lastError: String?
}

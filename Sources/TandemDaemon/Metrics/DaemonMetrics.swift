import Foundation
import Prometheus
import TandemPolicy

/// The daemon's Prometheus metrics. Per tenant: last success time, last duration, bytes
/// stored, logical bytes, dedup ratio, snapshots, quota use and limit, failures, quota
/// refusals. Process: resident memory, queue depth, running jobs, start time.
/// Metric names follow Prometheus conventions (`tandem_` prefix, base units, `_total` counters).
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let queued: Gauge
    private let running: Gauge
    private let rss: Gauge
    private let started: Gauge
    /// When tandemd started.
    let startedAt: Date

    init(startedAt: Date) {
        self.startedAt = startedAt
        queued = registry.makeGauge(name: "tandem_job_queue_depth", help: "Backup jobs waiting to start.")
        running = registry.makeGauge(name: "tandem_jobs_running", help: "Backup jobs running now.")
        rss = registry.makeGauge(name: "tandem_process_resident_memory_bytes", help: "Resident memory of tandemd.")
        started = registry.makeGauge(name: "tandem_process_start_time_seconds", help: "When tandemd started (Unix time).")
        started.set(startedAt.timeIntervalSince1970)
    }

    func queueDepth(_ count: Int) { queued.set(Double(count)) }
    func runningJobs(_ count: Int) { running.set(Double(count)) }

    private func gauge(_ name: String, _ help: String, tenant: String) -> Gauge {
        registry.makeGauge(name: name, labels: [("tenant", tenant)], help: help)
    }

    private func counter(_ name: String, _ help: String, tenant: String) -> Counter {
        registry.makeCounter(name: name, labels: [("tenant", tenant)], help: help)
    }

    /// Makes every per-tenant series exist (at zero) so dashboards and alerts see new tenants.
    func declare(_ policy: TenantPolicy) {
        let tenant = policy.tenant, quota = policy.quota.hard
        if let soft = policy.quota.soft {
            gauge("tandem_quota_soft_bytes", "The tenant's soft quota (a warning above it).", tenant: tenant).set(Double(soft))
        }
        if let rpo = policy.rpo {
            gauge("tandem_backup_rpo_objective_seconds", "The policy's rpo: the largest acceptable age of the newest backup.", tenant: tenant)
                .set(rpo)
        }
        if let remote = policy.remoteRPO {
            gauge("tandem_remote_rpo_objective_seconds", "The policy's remote_rpo.", tenant: tenant).set(remote)
        }
        _ = counter("tandem_backup_failures_total", "Backup runs that failed.", tenant: tenant)
        _ = counter("tandem_backup_success_total", "Backup runs that committed a snapshot.", tenant: tenant)
        _ = counter("tandem_quota_refusals_total", "Backups refused because the hard quota was reached.", tenant: tenant)
        _ = gauge("tandem_last_success_timestamp_seconds", "When the tenant's last successful backup ended (Unix time; 0: never).", tenant: tenant)
        _ = gauge("tandem_last_backup_duration_seconds", "How long the tenant's last successful backup took (0: none since start-up).", tenant: tenant)
        _ = gauge("tandem_last_backup_read_bytes", "Bytes read by the tenant's last successful backup (0: none since start-up).", tenant: tenant)
        _ = gauge("tandem_last_backup_new_bytes", "New (not deduplicated) bytes in the tenant's last successful backup (0: none since start-up).",
                  tenant: tenant)
        if let quota { gauge("tandem_quota_limit_bytes", "The tenant's hard quota.", tenant: tenant).set(Double(quota)) }
        for help in Self.placementCounters.values { _ = counter(help.name, help.help, tenant: tenant) }
        _ = counter("tandem_twin_stale_writes_refused_total", "Mirrored writes refused at this site because their epoch was stale.", tenant: tenant)
        placement(tenant: tenant, active: false, epoch: 0, leaseRemaining: 0)
        _ = gauge("tandem_remote_rpo_exceeded", "1 when the remote RPO exceeds the policy's remote_rpo.", tenant: tenant)
    }

    /// The counters a placement change adds to, by its cause, at the site where it happened.
    static let placementCounters: [LeaseCoordinator.PlacementCause: (name: String, help: String)] = [
        .takeover: ("tandem_takeovers_total", "Times this site took the tenant over after its active site fell silent."),
        .switchover: ("tandem_switchovers_total", "Times this site took the tenant in a planned switchover."),
        .forced: ("tandem_forced_promotions_total", "Times an operator forced this site to take the tenant without a majority."),
        .fenced: ("tandem_fenced_total", "Times this site found another site at a newer epoch and stopped writing for the tenant."),
    ]

    /// A placement change at this site.
    func placementChanged(tenant: String, cause: LeaseCoordinator.PlacementCause) {
        guard let counter = Self.placementCounters[cause] else { return }
        self.counter(counter.name, counter.help, tenant: tenant).increment()
    }

    /// Where the tenant is, as this site sees it now.
    func placement(tenant: String, active: Bool, epoch: UInt64, leaseRemaining: Double) {
        gauge("tandem_tenant_active", "1 at the site where the tenant is active (takes its backups), else 0.", tenant: tenant)
            .set(active ? 1.0 : 0.0)
        gauge("tandem_tenant_epoch", "The tenant's newest epoch known at this site (0: none).", tenant: tenant).set(Double(epoch))
        gauge("tandem_lease_remaining_seconds", "How long this site's lease of the tenant still runs (0: it holds none).", tenant: tenant)
            .set(leaseRemaining)
    }

    /// A tenant's drills at `site` (`remote` or `twin`), as the drill book has them: the last
    /// good drill's end, RPO and RTO (0: none yet), and since when the copy is tracked.
    func drills(tenant: String, site: String, record: DrillBook.Record) {
        let labels = [("tenant", tenant), ("site", site)]
        _ = registry.makeCounter(name: "tandem_drill_failures_total", labels: labels, help: "Drills that failed (nothing verified, or damage found).")
        let figures: [(String, String, Double)] = [
            ("tandem_drill_last_success_timestamp_seconds", "When the last drill that verified and restored a snapshot ended (Unix time; 0: never).",
             record.lastSuccess?.timeIntervalSince1970 ?? 0),
            ("tandem_drill_rpo_seconds", "The last good drill's RPO: the age of the snapshot it restored (0: no good drill yet).", record.rpoSeconds ?? 0),
            ("tandem_drill_rto_seconds", "The last good drill's RTO: drill start to verified restore (0: no good drill yet).", record.rtoSeconds ?? 0),
            ("tandem_drill_tracked_since_timestamp_seconds",
             "Since when this site has had the tenant's copy at that site to drill (Unix time; kept across restarts).",
             record.since.timeIntervalSince1970),
        ]
        for (name, help, value) in figures { registry.makeGauge(name: name, labels: labels, help: help).set(value) }
    }

    /// A drill of the tenant's copy at `site` failed.
    func drillFailed(tenant: String, site: String) {
        registry.makeCounter(name: "tandem_drill_failures_total", labels: [("tenant", tenant), ("site", site)],
                             help: "Drills that failed (nothing verified, or damage found).").increment()
    }

    /// A peer's heartbeat link, as this site sees it.
    func peer(_ name: String, heartbeatAge: Double?, linkUp: Bool) {
        registry.makeGauge(name: "tandem_peer_heartbeat_age_seconds", labels: [("peer", name)],
                           help: "Seconds since the peer's last heartbeat reached this site (-1: none yet).").set(heartbeatAge ?? -1)
        registry.makeGauge(name: "tandem_peer_link_up", labels: [("peer", name)],
                           help: "1 while this site's heartbeats reach the peer.").set(linkUp ? 1.0 : 0.0)
    }

    func backupSucceeded(tenant: String, seconds: Double, bytesRead: Int64, bytesNew: Int64, at time: Date) {
        counter("tandem_backup_success_total", "Backup runs that committed a snapshot.", tenant: tenant).increment()
        gauge("tandem_last_success_timestamp_seconds", "When the tenant's last successful backup ended (Unix time; 0: never).", tenant: tenant)
            .set(time.timeIntervalSince1970)
        gauge("tandem_last_backup_duration_seconds", "How long the tenant's last successful backup took (0: none since start-up).", tenant: tenant).set(seconds)
        gauge("tandem_last_backup_read_bytes", "Bytes read by the tenant's last successful backup (0: none since start-up).", tenant: tenant).set(Double(bytesRead))
        gauge("tandem_last_backup_new_bytes", "New (not deduplicated) bytes in the tenant's last successful backup (0: none since start-up).", tenant: tenant)
            .set(Double(bytesNew))
    }

    /// The newest committed snapshot's time, as found in the index at start-up.
    func lastSuccess(tenant: String, at time: Date) {
        gauge("tandem_last_success_timestamp_seconds", "When the tenant's last successful backup ended (Unix time; 0: never).", tenant: tenant)
            .set(time.timeIntervalSince1970)
    }

    /// A mirrored write refused because its epoch was stale (at the twin).
    func staleWriteRefused(tenant: String) {
        counter("tandem_twin_stale_writes_refused_total", "Mirrored writes refused at this site because their epoch was stale.", tenant: tenant)
            .increment()
    }

    /// The twin's state as the active site sees it.
    func twin(tenant: String, pending: Int, pendingBytes: Int64, inSync: Bool) {
        gauge("tandem_twin_pending_snapshots", "Snapshots committed at the active site that the twin does not hold yet.", tenant: tenant)
            .set(Double(pending))
        gauge("tandem_twin_pending_bytes", "Pack bytes the twin lacks for the snapshots it does not hold yet.", tenant: tenant)
            .set(Double(pendingBytes))
        gauge("tandem_twin_in_sync", "1 when the twin holds every snapshot committed at the active site.", tenant: tenant).set(Double(inSync ? 1 : 0))
    }

    func backupFailed(tenant: String) {
        counter("tandem_backup_failures_total", "Backup runs that failed.", tenant: tenant).increment()
    }

    func quotaRefused(tenant: String) {
        counter("tandem_quota_refusals_total", "Backups refused because the hard quota was reached.", tenant: tenant).increment()
    }

    func quota(tenant: String, used: Int64, limit: Int64?) {
        gauge("tandem_stored_bytes", "Bytes the tenant's packs take at this site.", tenant: tenant).set(Double(used))
        if let limit { gauge("tandem_quota_limit_bytes", "The tenant's hard quota.", tenant: tenant).set(Double(limit)) }
        if let limit, limit > 0 {
            gauge("tandem_quota_used_ratio", "Stored bytes over the hard quota.", tenant: tenant).set(Double(used) / Double(limit))
        }
    }

    func usage(tenant: String, stored: Int64, snapshots: Int, logicalBytes: Int64, quota: Int64?) {
        self.quota(tenant: tenant, used: stored, limit: quota)
        gauge("tandem_snapshots", "Snapshots the tenant has at this site.", tenant: tenant).set(Double(snapshots))
        gauge("tandem_logical_bytes", "Sum of the sizes of the tenant's snapshots (before dedup and compression).", tenant: tenant)
            .set(Double(logicalBytes))
        gauge("tandem_dedup_ratio", "Logical bytes over stored bytes (higher is better).", tenant: tenant)
            .set(stored > 0 ? Double(logicalBytes) / Double(stored) : 0)
    }

    /// What this site holds of a tenant active elsewhere (a twin, the remote site): its
    /// packs' bytes and snapshots. The logical bytes and the dedup ratio are the active site's
    /// to report (its index knows the snapshots' sizes): 0 here.
    func held(tenant: String, stored: Int64, snapshots: Int, quota: Int64?) {
        usage(tenant: tenant, stored: stored, snapshots: snapshots, logicalBytes: 0, quota: quota)
    }

    func remote(tenant: String, rpo: Double?, lag: Double, pending: Int, pendingBytes: Int64, objective: Double?) {
        gauge("tandem_remote_rpo_seconds", "Now minus the newest snapshot complete at the remote site (-1: none yet).", tenant: tenant)
            .set(rpo ?? -1)
        gauge("tandem_remote_lag_seconds", "Age of the oldest committed snapshot not yet complete at the remote site.", tenant: tenant).set(lag)
        gauge("tandem_remote_pending_snapshots", "Committed snapshots not yet complete at the remote site.", tenant: tenant).set(Double(pending))
        gauge("tandem_remote_pending_bytes", "Pack bytes the remote site lacks for the snapshots not yet complete there.", tenant: tenant).set(Double(pendingBytes))
        gauge("tandem_remote_rpo_exceeded", "1 when the remote RPO exceeds the policy's remote_rpo.", tenant: tenant)
            .set(Double(objective.map { (rpo ?? .infinity) > $0 ? 1 : 0 } ?? 0))
    }

    /// The text exposition format, with process figures refreshed first.
    public func render() -> String {
        rss.set(Double(Self.residentBytes()))
        return registry.emitToString()
    }

    static func residentBytes() -> Int64 {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int64(fields[1]) else { return 0 }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }
}

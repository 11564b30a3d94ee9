import Foundation
import Prometheus

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

    init() {
        queued = registry.makeGauge(name: "tandem_job_queue_depth", help: "Backup jobs waiting to start.")
        running = registry.makeGauge(name: "tandem_jobs_running", help: "Backup jobs running now.")
        rss = registry.makeGauge(name: "tandem_process_resident_memory_bytes", help: "Resident memory of tandemd.")
        started = registry.makeGauge(name: "tandem_process_start_time_seconds", help: "When tandemd started (Unix time).")
        started.set(Date().timeIntervalSince1970)
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
    func declare(tenant: String, quota: Int64?) {
        _ = counter("tandem_backup_failures_total", "Backup runs that failed.", tenant: tenant)
        _ = counter("tandem_backup_success_total", "Backup runs that committed a snapshot.", tenant: tenant)
        _ = counter("tandem_quota_refusals_total", "Backups refused because the hard quota was reached.", tenant: tenant)
        _ = gauge("tandem_last_success_timestamp_seconds", "When the tenant's last successful backup ended (Unix time; 0: never).", tenant: tenant)
        if let quota { gauge("tandem_quota_limit_bytes", "The tenant's hard quota.", tenant: tenant).set(Double(quota)) }
    }

    func backupSucceeded(tenant: String, seconds: Double, bytesRead: Int64, bytesNew: Int64, at time: Date) {
        counter("tandem_backup_success_total", "Backup runs that committed a snapshot.", tenant: tenant).increment()
        gauge("tandem_last_success_timestamp_seconds", "When the tenant's last successful backup ended (Unix time; 0: never).", tenant: tenant)
            .set(time.timeIntervalSince1970)
        gauge("tandem_last_backup_duration_seconds", "How long the tenant's last successful backup took.", tenant: tenant).set(seconds)
        gauge("tandem_last_backup_read_bytes", "Bytes read by the tenant's last successful backup.", tenant: tenant).set(Double(bytesRead))
        gauge("tandem_last_backup_new_bytes", "New (not deduplicated) bytes in the tenant's last successful backup.", tenant: tenant)
            .set(Double(bytesNew))
    }

    /// A mirrored write refused because its epoch was stale (at the twin).
    func staleWriteRefused(tenant: String) {
        counter("tandem_twin_stale_writes_refused_total", "Mirrored writes refused at this site because their epoch was stale.", tenant: tenant)
            .increment()
    }

    /// The twin's state as the active site sees it.
    func twin(tenant: String, pending: Int, inSync: Bool) {
        gauge("tandem_twin_pending_snapshots", "Snapshots committed at the active site that the twin does not hold yet.", tenant: tenant)
            .set(Double(pending))
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

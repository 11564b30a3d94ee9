import Foundation
import TandemCore
import TandemPolicy
import TandemStore
#if canImport(Glibc)
import Glibc
#endif

extension Daemon {
    /// The tenant's index, read without its key (nil before its first backup).
    func index(for tenant: String) throws -> IndexDatabase? {
        let path = indexPath(for: tenant)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try IndexDatabase(path: path)
    }

    public func status(for caller: Caller, metricsAddress: String?) async -> StatusResponse {
        var tenants: [TenantStatus] = []
        for policy in policies.tenants where caller.may(actOn: policy.tenant) {
            var used: Int64 = 0, snapshots = 0
            if let held = await heldHere(policy) {
                (used, snapshots) = held
            } else {
                let index = try? index(for: policy.tenant)
                used = (try? index?.packs().values.reduce(Int64(0)) { $0 + Int64($1) }) ?? 0
                snapshots = (try? index?.snapshots().count) ?? 0
            }
            let outcome = jobQueue.outcomes[policy.tenant]
            var item = TenantStatus(name: policy.tenant, lastBackup: outcome?.lastBackup, nextRun: nextRun(policy),
                                    quotaUsedBytes: used, quotaLimitBytes: policy.quota.hard,
                                    quotaSoftBytes: policy.quota.soft, snapshots: snapshots, failures: outcome?.failures ?? 0)
            // The remote's RPO is the active site's to report (its twin ships nothing).
            if let shipper = shipping.shipper, isActiveHere(policy) {
                let queue = await shipper.queue(policy.tenant)
                let now = clock.now()
                item.remoteRpoSeconds = queue.remoteRPO(now: now)
                item.remoteLagSeconds = queue.lag(now: now)
                item.remotePendingSnapshots = queue.pending.count
                item.remotePendingBytes = queue.pendingBytes
                // An error from a round that left nothing pending is over.
                item.remoteError = queue.pending.isEmpty ? nil : queue.lastError
            }
            await describeTwin(policy, into: &item)
            tenants.append(item)
        }
        let visibleJobs = jobQueue.statuses(tenant: nil).filter { caller.may(actOn: $0.tenant) && !$0.state.isFinished }
        var response = StatusResponse(site: policies.site.siteName, role: policies.site.role.rawValue, version: TandemVersion.current,
                                      startedAt: startedAt, caller: caller.roleName, tenants: tenants, jobs: visibleJobs)
        response.metricsAddress = metricsAddress
        if caller.isOperator {
            let now = clock.now()
            response.peers = policies.site.peers.map { peer in
                let state = placement.peers[peer.name]
                return PeerStatus(name: peer.name, role: peer.role.rawValue, address: "\(peer.address)",
                                  heartbeatLinkUp: state?.outgoingUp ?? false,
                                  lastHeartbeatAgeSeconds: state?.lastHeartbeat.map { now.timeIntervalSince($0) },
                                  lastError: state?.lastError)
            }
        }
        return response
    }

    /// `backup now`: queues the tenant's sources (or one), audited.
    public func backupNow(tenant: String, source: String?, caller: Caller) async throws -> [JobStatus] {
        let policy = try policy(tenant)
        guard isActiveHere(policy) else {
            let here = policies.site.role == .near ? "\(policies.site.siteName) (its twin): back it up there, or move it here with a failover first"
                : "\(policies.site.siteName), the remote site, which keeps the copies near sites ship: back it up at \(activeSite(policy) ?? "its active near site")"
            throw DaemonError.refused("tenant \(tenant) is active at \(activeSite(policy) ?? "a near site"), not here at \(here)")
        }
        let names = source.map { [$0] } ?? policy.sources.map(\.name)
        var jobs: [JobStatus] = []
        do {
            for name in names {
                let job = try enqueueBackup(tenant: tenant, source: name, trigger: "manual")
                if let status = self.job(job.id) { jobs.append(status) }
            }
        } catch {
            await record(actor: caller.actor, role: caller.roleName, action: "backup", tenant: tenant,
                         detail: "source=\(source ?? "all")", result: "refused: \(error)")
            throw error
        }
        await record(actor: caller.actor, role: caller.roleName, action: "backup", tenant: tenant,
                     detail: "source=\(source ?? "all") jobs=\(jobs.map(\.id).joined(separator: ","))", result: "ok")
        return jobs
    }

    public func snapshots(tenant: String) throws -> SnapshotsResponse {
        _ = try policy(tenant)
        let records = try index(for: tenant)?.snapshots() ?? []
        return SnapshotsResponse(tenant: tenant, snapshots: records.map {
            SnapshotItem(id: $0.id, time: $0.time, source: $0.source, kind: $0.kind.rawValue, hostname: $0.hostname,
                         tags: $0.tags, bytes: $0.size)
        })
    }

    /// Restores into `target`. A tenant caller may only restore below a directory it owns
    /// (the daemon writes as its own user, so this stops a tenant from using it to write
    /// where the tenant could not).
    public func restore(tenant: String, request: RestoreRequest, caller: Caller) async throws -> RestoreResult {
        let policy = try policy(tenant)
        guard request.target.hasPrefix("/") else { throw DaemonError.badRequest("restore target must be an absolute path, got '\(request.target)'") }
        if !caller.isOperator { try Self.checkOwnedParent(request.target, uid: caller.uid) }
        let detail = "snapshot=\(request.snapshot) target=\(request.target)" + (request.path.map { " path=\($0)" } ?? "")
        do {
            let repo = try await openTenant(policy)
            var options = RestoreOptions()
            options.overwrite = request.overwrite
            options.only = request.path
            options.verifyIDs = request.verifyIds ?? false
            let summary = try await repo.restore(request.snapshot, to: .path(request.target), options: options)
            await record(actor: caller.actor, role: caller.roleName, action: "restore", tenant: tenant, detail: detail, result: "ok")
            return summary
        } catch {
            await record(actor: caller.actor, role: caller.roleName, action: "restore", tenant: tenant, detail: detail,
                         result: "failed: \(Self.describe(error))")
            throw error
        }
    }

    static func checkOwnedParent(_ target: String, uid: UInt32) throws {
        let parent = (target as NSString).deletingLastPathComponent
        var info = stat()
        guard lstat(parent, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw DaemonError.forbidden("restore target's parent \(parent) is not a directory")
        }
        guard info.st_uid == uid else {
            throw DaemonError.forbidden("a tenant may restore only into a directory it owns; \(parent) belongs to uid \(info.st_uid)")
        }
    }

    public func check(tenant: String, readData: Bool, caller: Caller) async throws -> CheckReport {
        let policy = try policy(tenant)
        let repo = try await openTenant(policy)
        let report = try await repo.check(readData: readData)
        await record(actor: caller.actor, role: caller.roleName, action: "check", tenant: tenant,
                     detail: "read_data=\(readData)", result: report.problems.isEmpty ? "ok" : "problems: \(report.problems.count)")
        return report
    }

    /// Retention now: forget by the site's rules, then prune. Refused while a backup of the
    /// tenant runs.
    public func prune(tenant: String, caller: Caller) async throws -> PruneReport {
        let policy = try policy(tenant)
        // Hold the tenant: no job of it starts until this ends (its lock is exclusive).
        guard jobQueue.hold(tenant) else {
            throw DaemonError.busy("tenant \(tenant) has a job running; prune needs the tenant to itself, try again when it ends")
        }
        defer { releaseTenant(tenant) }
        let repo = try await openTenant(policy)
        do {
            var forgotten: [String] = []
            if let rules = policy.retention(forSite: policies.site.siteName) {
                forgotten = try await forgetBySitePolicy(rules, policy: policy, tenant: repo).removed
            }
            let report = try await repo.prune()
            var log = logger
            log[metadataKey: "tenant"] = "\(tenant)"
            await carryRetention(policy, tenant: repo, forgotten: forgotten, pruned: report, logger: log)
            await refreshUsage(policy, tenant: repo)
            await record(actor: caller.actor, role: caller.roleName, action: "prune", tenant: tenant,
                         detail: "packs_deleted=\(report.packsDeleted) bytes_after=\(report.bytesAfter)", result: "ok")
            return report
        } catch {
            await record(actor: caller.actor, role: caller.roleName, action: "prune", tenant: tenant, detail: "",
                         result: "failed: \(Self.describe(error))")
            throw error
        }
    }

    public func policyText(tenant: String) throws -> PolicyDocument {
        let policy = try policy(tenant)
        let text = (try? String(contentsOfFile: policy.file, encoding: .utf8)) ?? ""
        return PolicyDocument(tenant: tenant, file: policy.file, text: text, nextRun: nextRun(policy))
    }
}

/// The version `status` reports.
public enum TandemVersion {
    public static let current = "0.3.0"
}

import Foundation
import Logging
import TandemCore
import TandemPolicy
import TandemStore

extension Daemon {
    /// Runs one job to its end and records the outcome. Never throws: a failure is the job's
    /// result, logged and counted, and the daemon goes on.
    func execute(_ job: Job) async {
        switch job.kind {
        case .backup(let source):
            await executeBackup(job, sourceName: source)
        }
    }

    private func executeBackup(_ job: Job, sourceName: String) async {
        let started = clock.now()
        var log = logger
        log[metadataKey: "tenant"] = "\(job.tenant)"
        log[metadataKey: "source"] = "\(sourceName)"
        log[metadataKey: "job"] = "\(job.id)"
        log.info("backup started", metadata: ["trigger": "\(job.trigger)"])
        do {
            let policy = try policy(job.tenant)
            guard let source = policy.source(named: sourceName) else {
                throw DaemonError.notFound("source '\(sourceName)' is no longer in tenant \(job.tenant)'s policy")
            }
            // Only the lease holder writes (where leases are in force).
            if let refusal = await awaitLease(job.tenant) { throw DaemonError.forbidden(refusal) }
            let tenant = try await openTenant(policy)
            try checkQuota(policy, tenant: tenant)
            let runner = BackupRunner(tenant: tenant, policy: policy, source: source, job: job, clock: clock,
                                      logger: log, siteName: policies.site.siteName)
            let result: BackupResult
            if let twinMirror = mirroring.shipper, twinName != nil {
                // New packs stream to the twin while the backup runs; the commit-time round
                // then sends only what it still lacks.
                result = try await twinMirror.streaming(tenant: job.tenant) { stream in
                    var streamed = runner
                    if let stream { streamed.afterPack = { name, path in await stream.send(name: name, path: path) } }
                    return try await streamed.run()
                }
            } else {
                result = try await runner.run()
            }
            let packs = try? await tenant.packsReferenced(by: result.snapshotID)
            let record = try? tenant.index.snapshots().first { $0.id == result.snapshotID }
            // Committed only once the twin holds it (or the witness recorded the twin outdated)
            // and this site still holds the lease.
            let decision = await decideCommit(policy, snapshot: result.snapshotID, time: record?.time ?? started,
                                              source: record?.source, packs: packs, logger: log)
            switch decision {
            case .refuse(let refusal):
                throw NotAcknowledged(refusal: refusal, message: explain(refusal, tenant: job.tenant, snapshot: result.snapshotID))
            case .acknowledge(let twinLacks?):
                log.warning("the twin does not hold the snapshot yet (twin: preferred); it is caught up when the twin returns",
                            metadata: ["error": "\(twinLacks)"])
                mirroring.bell.ring()
            default:
                break
            }
            let seconds = clock.now().timeIntervalSince(started)
            log.notice("backup committed", metadata: [
                "snapshot": "\(result.snapshotID.prefix(12))", "bytes_read": "\(result.summary.bytesRead)",
                "bytes_new": "\(result.summary.bytesNew)", "seconds": "\(String(format: "%.2f", seconds))",
            ])
            for warning in result.warnings.prefix(20) { log.warning("entry skipped", metadata: ["why": "\(warning)"]) }
            // The acknowledgement itself is audited, with the epoch it was written under.
            let epoch = await self.epoch(of: job.tenant)
            await self.record(actor: "tandemd", role: "daemon", action: "commit", tenant: job.tenant,
                         detail: "snapshot=\(result.snapshotID) site=\(policies.site.siteName) epoch=\(epoch.map(String.init) ?? "-") source=\(sourceName)",
                         result: "ok")
            recordOutcome(job, source: source, started: started, seconds: seconds, snapshotID: result.snapshotID, error: nil)
            metrics.backupSucceeded(tenant: job.tenant, seconds: seconds, bytesRead: result.summary.bytesRead,
                                    bytesNew: result.summary.bytesNew, at: clock.now())
            if let shipper = shipping.shipper {
                do {
                    try await shipper.committed(tenant: job.tenant, snapshot: result.snapshotID, time: record?.time ?? started,
                                                now: clock.now(), source: record?.source, packs: packs)
                    shipping.bell.ring()
                } catch {
                    log.error("cannot queue the snapshot for the remote site; it will be found at the next reconcile", metadata: ["error": "\(error)"])
                }
            }
            // Retention runs inside the job, so no other job of the tenant starts meanwhile
            // (prune needs the tenant to itself) and "idle" means retention is done too.
            await applyRetentionWhenFree(policy, tenant: tenant, after: job, logger: log)
            await refreshUsage(policy, tenant: tenant)
            finish(job, state: .succeeded, snapshotID: result.snapshotID, message: nil)
        } catch let unacknowledged as NotAcknowledged {
            log.error("backup written but not acknowledged", metadata: ["why": "\(unacknowledged.reason)", "error": "\(unacknowledged.message)"])
            recordOutcome(job, source: nil, started: started, seconds: clock.now().timeIntervalSince(started), snapshotID: nil,
                          error: unacknowledged.message)
            metrics.backupFailed(tenant: job.tenant)
            finish(job, state: .failed, snapshotID: nil, message: unacknowledged.message)
        } catch is CancellationError {
            log.warning("backup cancelled; no snapshot was written")
            recordOutcome(job, source: nil, started: started, seconds: clock.now().timeIntervalSince(started), snapshotID: nil,
                          error: "cancelled")
            finish(job, state: .cancelled, snapshotID: nil, message: "cancelled (daemon stopping); no snapshot was written")
        } catch {
            var message = Self.describe(error)
            if let corruption = error as? IndexCorruption {
                // The index is a cache: the next job opens an empty one and rebuilds it.
                message += "; moved to \(IndexDatabase.moveAside(corruption.path)), rebuilt from packs and manifests by the next run"
            }
            log.error("backup failed; no snapshot was written", metadata: ["error": "\(message)"])
            recordOutcome(job, source: nil, started: started, seconds: clock.now().timeIntervalSince(started), snapshotID: nil,
                          error: message)
            metrics.backupFailed(tenant: job.tenant)
            finish(job, state: .failed, snapshotID: nil, message: message)
        }
    }

    static func describe(_ error: any Error) -> String {
        String(describing: error)
    }

    /// Drives the commit decision (``CommitMachine``) for a snapshot written here: the twin,
    /// then (degraded) the witness, then the lease, each asked only when the machine says.
    private func decideCommit(_ policy: TenantPolicy, snapshot: String, time: Date, source: String?, packs: Set<String>?,
                              logger log: Logger) async -> CommitMachine.Step {
        let twinRule: CommitMachine.TwinRule? = mirroring.shipper == nil || twinName == nil ? nil
            : policy.twin == .required ? .required : .preferred
        let leases = placement.coordinator?.leasesInForce ?? false
        var machine = CommitMachine(twin: twinRule, leasesInForce: leases)
        while !machine.isDecided {
            let fact: CommitMachine.Event
            switch machine.step {
            case .mirrorToTwin:
                let problem = await mirrorToTwin(policy, snapshot: snapshot, time: time, source: source, packs: packs, logger: log)
                fact = problem.map { .twinLacks($0) } ?? .twinHolds
            case .recordTwinOutdated:
                fact = await recordTwinOutdated(policy.tenant).map { .outdateRefused($0) } ?? .outdateRecorded
            case .confirmLease:
                fact = await placement.coordinator?.mayWrite(policy.tenant) == true ? .leaseHeld : .leaseLost
            case .acknowledge, .refuse:
                return machine.step
            }
            _ = machine.handle(fact)
        }
        return machine.step
    }

    /// What an operator reads when a written snapshot is not acknowledged.
    private func explain(_ refusal: CommitMachine.Refusal, tenant: String, snapshot: String) -> String {
        switch refusal {
        case .twinRequired(let twinLacks):
            "\(twinLacks) (twin: required). The snapshot is kept at this site and reaches the twin when it returns, but it is not acknowledged as committed"
        case .outdateNotRecorded(let twinLacks, let refusal):
            "\(twinLacks); and \(refusal), so the snapshot is kept here but not acknowledged"
        case .leaseLost:
            "site \(policies.site.siteName) lost the lease of tenant \(tenant) before acknowledging snapshot \(snapshot.prefix(12)); it is not acknowledged"
        }
    }

    private func recordOutcome(_ job: Job, source: PolicySource?, started: Date, seconds: Double, snapshotID: String?, error: String?) {
        var outcome = jobQueue.outcomes[job.tenant] ?? JobQueue.TenantOutcome()
        outcome.lastBackup = LastBackup(time: started, source: job.source ?? "", snapshotId: snapshotID,
                                        result: error == nil ? "success" : "failed", message: error, seconds: seconds)
        if error == nil { outcome.lastSuccess = clock.now() } else if error != "cancelled" { outcome.failures += 1 }
        jobQueue.outcomes[job.tenant] = outcome
    }

    /// Opens the tenant with its policy's key, creating it in the repository on first use.
    func openTenant(_ policy: TenantPolicy) async throws -> TenantRepository {
        try await withOpenerTurn(policy.tenant) { try await openTenantNow(policy) }
    }

    private func openTenantNow(_ policy: TenantPolicy) async throws -> TenantRepository {
        guard let key = policy.key else {
            throw DaemonError.badRequest("site \(policies.site.siteName) holds no key for tenant \(policy.tenant) (its policy has no key section)")
        }
        let secret = try await KeyLoader.load(key, tenant: policy.tenant)
        let indexPath = indexPath(for: policy.tenant)
        try FileManager.default.createDirectory(atPath: (indexPath as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        do {
            do {
                return try await TenantRepository.open(in: repository, name: policy.tenant, secret: secret, indexPath: indexPath)
            } catch let corruption as IndexCorruption {
                let aside = IndexDatabase.moveAside(corruption.path)
                logger.error("tenant index damaged; moved aside and rebuilt from packs and manifests",
                             metadata: ["tenant": "\(policy.tenant)", "error": "\(corruption)", "moved_to": "\(aside)"])
                return try await TenantRepository.open(in: repository, name: policy.tenant, secret: secret, indexPath: indexPath)
            }
        } catch RepositoryError.unknownTenant {
            let created: TenantRepository
            do {
                created = try await TenantRepository.create(in: repository, name: policy.tenant, suite: policy.suite,
                                                            chunker: policy.chunker, compression: policy.compression,
                                                            secret: secret, now: clock.now(), indexPath: indexPath)
            } catch RepositoryError.tenantExists {
                // Another process created it a moment ago.
                return try await TenantRepository.open(in: repository, name: policy.tenant, secret: secret, indexPath: indexPath)
            }
            logger.notice("tenant created in the repository", metadata: ["tenant": "\(policy.tenant)", "suite": "\(policy.suite.name)"])
            await record(actor: "daemon", role: "daemon", action: "tenant-create", tenant: policy.tenant,
                         detail: "suite=\(policy.suite.name) chunker=\(policy.chunker) compression=\(policy.compression)", result: "ok")
            return created
        } catch KeySlotError.wrongKey {
            throw DaemonError.forbidden("tenant \(policy.tenant): the key from its policy opens none of the tenant's key slots")
        }
    }

    /// Refuses a backup before it starts when the hard quota is reached; warns above the soft one.
    func checkQuota(_ policy: TenantPolicy, tenant: TenantRepository) throws {
        let used = (try? tenant.index.packs().values.reduce(Int64(0)) { $0 + Int64($1) }) ?? 0
        metrics.quota(tenant: policy.tenant, used: used, limit: policy.quota.hard)
        if let hard = policy.quota.hard, used >= hard {
            metrics.quotaRefused(tenant: policy.tenant)
            throw DaemonError.quotaExceeded("tenant \(policy.tenant) stores \(ByteCount.format(used)) at site \(policies.site.siteName), at or above its hard quota of \(ByteCount.format(hard)); backup refused before it started (forget/prune old snapshots or raise quota.hard in \(policy.file))")
        }
        if let soft = policy.quota.soft, used >= soft {
            logger.warning("tenant above its soft quota", metadata: ["tenant": "\(policy.tenant)", "used": "\(used)", "soft": "\(soft)"])
        }
    }

    /// Retention (forget, then prune) after a successful backup; deferred while another job of
    /// the tenant runs, since prune needs the tenant to itself.
    private func applyRetentionWhenFree(_ policy: TenantPolicy, tenant: TenantRepository, after job: Job, logger log: Logger) async {
        guard policy.retention(forSite: policies.site.siteName) != nil else { return }
        // Deferred: the tenant's next backup applies it.
        if jobQueue.hasOtherWork(job.tenant, besides: job) { return }
        jobQueue.holdFromItsJob(job.tenant)
        await applyRetention(policy, tenant: tenant, logger: log)
        releaseTenant(job.tenant)
    }

    /// Forget by the site's retention rules, then prune what no snapshot needs.
    func applyRetention(_ policy: TenantPolicy, tenant: TenantRepository, logger log: Logger) async {
        guard let rules = policy.retention(forSite: policies.site.siteName) else { return }
        do {
            let forget = try await forgetBySitePolicy(rules, policy: policy, tenant: tenant)
            if !forget.removed.isEmpty {
                let pruned = try await tenant.prune()
                log.notice("retention applied", metadata: ["removed": "\(forget.removed.count)", "packs_deleted": "\(pruned.packsDeleted)"])
                await carryRetention(policy, tenant: tenant, forgotten: forget.removed, pruned: pruned, logger: log)
            }
        } catch BackendError.locked {
            // A reader holds the tenant shared (an export or mount through tandemd, a tandemctl
            // restore, serve or mount of its own): nothing is wrong, and nothing was removed.
            log.notice("retention deferred: a reader holds the tenant (an export, a mount or a restore); the next backup applies it")
        } catch {
            log.error("retention failed; snapshots are kept until the next run", metadata: ["error": "\(Self.describe(error))"])
        }
    }

    /// Forget by this site's rules, keeping every snapshot the remote site or the twin does
    /// not hold yet: the one place both scheduled retention and `prune` go through.
    func forgetBySitePolicy(_ rules: RetentionPolicy, policy: TenantPolicy, tenant: TenantRepository) async throws -> ForgetReport {
        let remote = await shipping.shipper?.unshipped(policy.tenant) ?? []
        let twin = await mirroring.shipper?.unshipped(policy.tenant) ?? []
        let reason = twin.isEmpty ? "not yet at the remote site" : remote.isEmpty ? "not yet at the twin" : "not yet at the remote site or the twin"
        return try await tenant.forget(policy: rules, dryRun: false, now: clock.now(), timeZone: policy.timeZone,
                                       protect: remote.union(twin), protectReason: reason)
    }

    func refreshUsage(_ policy: TenantPolicy, tenant: TenantRepository) async {
        let used = (try? tenant.index.packs().values.reduce(Int64(0)) { $0 + Int64($1) }) ?? 0
        let snapshots = (try? tenant.index.snapshots()) ?? []
        let read = snapshots.reduce(Int64(0)) { $0 + $1.size }
        metrics.usage(tenant: policy.tenant, stored: used, snapshots: snapshots.count, logicalBytes: read, quota: policy.quota.hard)
    }
}

/// Byte counts for messages: `1.5 GiB`.
enum ByteCount {
    static func format(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// A snapshot written at the active site and not acknowledged as committed (``CommitMachine``).
struct NotAcknowledged: Error {
    let refusal: CommitMachine.Refusal
    let message: String

    /// The refusal's short name for the log.
    var reason: String {
        switch refusal {
        case .twinRequired: "twin_required"
        case .outdateNotRecorded: "outdate_not_recorded"
        case .leaseLost: "lease_lost"
        }
    }
}

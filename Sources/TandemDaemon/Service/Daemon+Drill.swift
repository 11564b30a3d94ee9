import Foundation
import TandemCore
import TandemPolicy
import TandemSites
import TandemStore

extension Daemon {
    /// A drill at the remote site or the twin, without disturbing production: the newest
    /// snapshot complete there is fetched over the link into a scratch repository under
    /// `STATE/drills/`, every byte is checked with the tenant's key, the snapshot is restored
    /// into the scratch area, and the RPO (its age) and RTO (drill start to verified restore)
    /// are measured. The objective at the remote is the policy's `remote_rpo`; the twin is
    /// synchronous, so there it must hold the newest snapshot committed here. With `instant`,
    /// the copy (an image) is first served over NBD and read once through the socket: the
    /// instant RTO, from the copy at hand to that first verified read, as at the site itself,
    /// where the copy is local. The scratch area is removed.
    public func drill(tenant: String, request: DrillRequest, caller: Caller) async throws -> DrillReport {
        let policy = try policy(tenant)
        let peer: Shipper?
        switch request.site {
        case "remote": peer = shipping.shipper
        case "twin": peer = isActiveHere(policy) ? mirroring.shipper : nil
        default: throw DaemonError.badRequest("--site must be twin or remote, not '\(request.site)'")
        }
        guard let shipper = peer, let key = policy.key else {
            throw DaemonError.badRequest(request.site == "twin"
                ? "site \(policies.site.siteName) is not the active site of \(tenant) with a twin (drill the twin from the active site)"
                : "site \(policies.site.siteName) has no remote peer (or no key for \(tenant)) to drill against")
        }
        let began = ContinuousClock.now
        let scratch = policies.site.stateDirectory + "/drills/\(tenant)-\(UUID().uuidString.prefix(8).lowercased())"
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let detail = "site=\(request.site)"
        do {
            let backend = LocalBackend(root: scratch + "/repository")
            _ = try await Repository.initialize(backend: backend, now: clock.now())
            guard let (id, time) = try await shipper.client.fetchNewestSnapshot(tenant: tenant, into: backend) else {
                throw DaemonError.notFound("no snapshot of \(tenant) is complete at the \(request.site) site yet")
            }
            let fetched = (ContinuousClock.now - began) / .seconds(1)
            let secret = try await KeyLoader.load(key, tenant: tenant)
            let repo = try await TenantRepository.open(in: try await Repository.open(backend: backend), name: tenant, secret: secret,
                                                       indexPath: scratch + "/index.sqlite")
            let instant = request.instant == true
                ? try await InstantRecovery.firstVerifiedRead(repo, snapshot: id, tenant: tenant, site: request.site, logger: logger) : nil
            let check = try await repo.check(readData: true)
            let restored = try await repo.restore(id, to: .path(scratch + "/restore"), options: RestoreOptions())
            let rto = (ContinuousClock.now - began) / .seconds(1)
            let now = clock.now()
            let rpo = now.timeIntervalSince(time)
            var objective = policy.remoteRPO
            var twinCurrent: Bool?
            if request.site == "twin" {
                // The twin has no objective of its own: it is synchronous, so it must hold the
                // newest snapshot committed here (within the second stored times are rounded to).
                objective = nil
                let newestHere = (try? index(for: tenant)?.snapshots().map(\.time).max()) ?? nil
                twinCurrent = newestHere.map { time.timeIntervalSince($0) >= -1 } ?? true
            }
            let report = DrillReport(tenant: tenant, site: request.site, snapshotId: id, snapshotTime: time, rpoSeconds: rpo,
                                     rtoSeconds: rto, bytesRestored: restored.bytesRestored, files: restored.files,
                                     problems: check.problems.map { "\($0.object): \($0.problem)" },
                                     rpoObjectiveSeconds: objective, rpoMet: objective.map { rpo <= $0 + 1 }, twinCurrent: twinCurrent,
                                     fetchSeconds: fetched, instantRtoSeconds: instant)
            logger.notice("drill finished", metadata: ["tenant": "\(tenant)", "site": "\(request.site)", "rpo_seconds": "\(Int(rpo))",
                                                       "rto_seconds": "\(String(format: "%.2f", rto))", "problems": "\(check.problems.count)",
                                                       "instant_rto_seconds": "\(instant.map { String(format: "%.3f", $0) } ?? "-")"])
            if check.problems.isEmpty {
                drills.succeeded(tenant: tenant, site: request.site, at: now, rpo: rpo, rto: rto)
            } else {
                drills.failed(tenant: tenant, site: request.site, at: now, error: "\(check.problems.count) problem(s) in the copy")
            }
            await drillRecorded(tenant: tenant, site: request.site, failed: !check.problems.isEmpty)
            await record(actor: caller.actor, role: caller.roleName, action: "drill", tenant: tenant,
                         detail: "\(detail) snapshot=\(id.prefix(12)) rpo=\(Int(rpo))s rto=\(String(format: "%.1f", rto))s"
                             + (instant.map { " instant_rto=\(String(format: "%.2f", $0))s" } ?? ""),
                         result: check.problems.isEmpty ? "ok" : "problems: \(check.problems.count)")
            return report
        } catch {
            drills.failed(tenant: tenant, site: request.site, at: clock.now(), error: Self.describe(error))
            await drillRecorded(tenant: tenant, site: request.site, failed: true)
            await record(actor: caller.actor, role: caller.roleName, action: "drill", tenant: tenant, detail: detail,
                         result: "failed: \(Self.describe(error))")
            throw error
        }
    }

    /// Keeps a drill's result (crash-safely) and shows it in the metrics.
    func drillRecorded(tenant: String, site: String, failed: Bool) async {
        if failed { metrics.drillFailed(tenant: tenant, site: site) }
        if let record = drills.record(tenant: tenant, site: site) { metrics.drills(tenant: tenant, site: site, record: record) }
        do {
            try await drills.save()
        } catch {
            logger.error("cannot keep the drill's result across a restart", metadata: ["tenant": "\(tenant)", "file": "\(drills.file)",
                                                                                        "error": "\(Self.describe(error))"])
        }
    }

    /// The sites a tenant's copies can be drilled at from here: its twin and the remote site.
    var drillSites: [String] {
        policies.site.peers.compactMap { $0.role == .twin ? "twin" : $0.role == .remote ? "remote" : nil }
    }

    /// Starts the overdue clock of copies seen for the first time and shows every tenant's
    /// drill records (kept across restarts) in the metrics.
    func publishDrillRecords() async {
        var changed = false
        for policy in policies.tenants {
            for site in drillSites {
                changed = drills.track(tenant: policy.tenant, site: site, now: clock.now()) || changed
                if let record = drills.record(tenant: policy.tenant, site: site) {
                    metrics.drills(tenant: policy.tenant, site: site, record: record)
                }
            }
        }
        guard changed else { return }
        do {
            try await drills.save()
        } catch {
            logger.error("cannot keep when drills became due", metadata: ["file": "\(drills.file)", "error": "\(Self.describe(error))"])
        }
    }
}

import Foundation
import TandemCore
import TandemPolicy
import TandemStore

extension Daemon {
    /// Repair from peers: `check --read-data`, then every damaged pack is fetched from the
    /// remote site (verified by its name) and put back; if snapshots reference chunks stored in
    /// no pack, every pack the remote holds and this site lacks is fetched. A damaged pack no
    /// peer can give is moved aside, so no later backup deduplicates against it. Then the index
    /// is reconciled and the tenant checked again. Refused while a backup of the tenant runs.
    public func repair(tenant: String, caller: Caller) async throws -> RepairReport {
        let policy = try policy(tenant)
        guard let shipper = shipping.shipper else {
            throw DaemonError.badRequest("site \(policies.site.siteName) has no remote peer to repair from (peers with role remote and tls files)")
        }
        // Hold the tenant: no job of it starts until this ends (its lock is exclusive).
        guard jobQueue.hold(tenant) else {
            throw DaemonError.busy("tenant \(tenant) has a job running; repair needs the tenant to itself, try again when it ends")
        }
        defer { releaseTenant(tenant) }
        let repo = try await openTenant(policy)
        let before = try await repo.check(readData: true)
        let damaged = before.problems.compactMap { problem -> String? in
            guard problem.object.hasPrefix("pack ") else { return nil }
            return String(problem.object.dropFirst("pack ".count))
        }
        let lacksChunks = before.problems.contains { $0.object.hasPrefix("snapshot ") && $0.problem.contains("stored in no pack") }
        var fetched: [String] = []
        var quarantined: [String] = []
        if !damaged.isEmpty {
            let result = try await shipper.client.fetchPacks(tenant: tenant, names: Array(Set(damaged)).sorted())
            fetched += result.fetched
            // The check took the failing blobs out of the index; the good copy puts them back.
            for name in result.fetched { try await repo.clearDamage(pack: name) }
            for name in result.unavailable {
                let path = TenantLayout(tenant).pack(name)
                if let bytes = try? await repository.backend.read(path) {
                    try await repository.backend.write(TenantLayout(tenant).quarantine(name), bytes, overwrite: true)
                }
                try await repository.backend.delete(path)
                try await repo.clearDamage(pack: name)
                quarantined.append(name)
            }
        }
        if lacksChunks {
            fetched += try await shipper.client.fetchPacks(tenant: tenant, names: nil).fetched
        }
        try await repo.reconcile()
        let after = try await repo.check(readData: true)
        let report = RepairReport(tenant: tenant, problemsBefore: before.problems.map { "\($0.object): \($0.problem)" },
                                  fetched: fetched, quarantined: quarantined,
                                  problemsAfter: after.problems.map { "\($0.object): \($0.problem)" })
        logger.notice("repair finished", metadata: ["tenant": "\(tenant)", "fetched": "\(fetched.count)",
                                                    "quarantined": "\(quarantined.count)", "problems_left": "\(after.problems.count)"])
        await record(actor: caller.actor, role: caller.roleName, action: "repair", tenant: tenant,
                     detail: "problems=\(before.problems.count) fetched=\(fetched.count) quarantined=\(quarantined.count)",
                     result: after.problems.isEmpty ? "ok" : "problems left: \(after.problems.count)")
        await refreshUsage(policy, tenant: repo)
        return report
    }
}

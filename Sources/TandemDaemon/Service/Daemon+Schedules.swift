import Foundation
import TandemCore
import TandemPolicy

extension Daemon {
    func planner(for policy: TenantPolicy) -> SchedulePlanner {
        SchedulePlanner(entries: policy.schedules.map { SchedulePlanner.Entry(name: $0.name, trigger: $0.trigger, sources: $0.sources) },
                        window: policy.window, windowZone: policy.timeZone)
    }

    /// Queues every schedule whose start time has come and moves its mark; returns how many
    /// runs were queued. Missed slots (downtime) collapse into one run.
    @discardableResult
    public func fireDueSchedules() async -> Int {
        let now = clock.now()
        var queued = 0
        var changed = false
        // Only the tenant's active near site backs up; a remote or witness site's policies
        // carry retention only, and a twin takes the active site's mirror. Where leases are in
        // force, a tenant's schedules wait for its lease (they fire once it is held) instead of
        // queueing runs that could only fail.
        for policy in policies.tenants where schedulesRunHere(policy) {
            let planner = planner(for: policy)
            var tenantMarks = schedules.marks[policy.tenant] ?? [:]
            for entry in planner.entries where tenantMarks[entry.name] == nil {
                tenantMarks[entry.name] = SchedulePlanner.initialMark(at: now)
                changed = true
            }
            for entry in planner.startsDue(marks: tenantMarks, now: now) {
                for source in entry.sources {
                    do {
                        try enqueueBackup(tenant: policy.tenant, source: source, trigger: entry.name)
                        queued += 1
                    } catch {
                        logger.error("scheduled run not queued", metadata: ["tenant": "\(policy.tenant)", "error": "\(error)"])
                    }
                }
                tenantMarks[entry.name] = SchedulePlanner.markStarted(at: now)
                changed = true
            }
            schedules.marks[policy.tenant] = tenantMarks
        }
        if changed { await saveMarks() }
        return queued
    }

    /// When the scheduler must look again: the earliest next start of any schedule.
    public func nextWake() -> Date? {
        let now = clock.now()
        return policies.tenants.filter(schedulesRunHere).compactMap { planner(for: $0).nextWake(marks: schedules.marks[$0.tenant] ?? [:], now: now) }.min()
    }

    /// Whether `policy`'s schedules run here now: active here, and holding its lease where
    /// leases are in force.
    func schedulesRunHere(_ policy: TenantPolicy) -> Bool {
        isActiveHere(policy) && !placement.awaitsLease(policy.tenant)
    }

    /// The next start of one tenant's schedules.
    func nextRun(_ policy: TenantPolicy) -> Date? {
        guard isActiveHere(policy) else { return nil }
        return planner(for: policy).nextWake(marks: schedules.marks[policy.tenant] ?? [:], now: clock.now())
    }

    /// `policy simulate`: the runs of the next `days` days and what retention at this site
    /// would keep of them and of the existing snapshots.
    public func simulate(tenant: String, days: Int) throws -> SimulationReport {
        let policy = try policy(tenant)
        let now = clock.now()
        let until = now.addingTimeInterval(Double(days) * 86400)
        let existing = (try? index(for: tenant)?.snapshots()) ?? []
        return PolicySimulation.run(policy: policy, site: policies.site.siteName, from: now, until: until,
                                    marks: schedules.marks[tenant] ?? [:],
                                    existing: existing.map { RetentionSimulator.Existing(time: $0.time, source: $0.source) })
    }
}

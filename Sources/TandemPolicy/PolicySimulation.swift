import Foundation
import TandemCore

extension PolicySource {
    /// The `source` a snapshot of this source records (what retention groups by): the path
    /// of an image, device or directory, or `command:NAME` for a command's stream.
    public var snapshotSource: String {
        switch kind {
        case .image(let path), .device(let path), .directory(let path, _): path
        case .command: "command:\(name)"
        }
    }
}

/// `policy simulate`, shared by the daemon (which adds the tenant's real snapshots and
/// schedule marks) and `tandemctl policy simulate --config` (which has neither).
public enum PolicySimulation {
    public static func run(policy: TenantPolicy, site: String, from: Date, until: Date,
                           marks: [String: SchedulePlanner.Mark] = [:],
                           existing: [RetentionSimulator.Existing] = []) -> SimulationReport {
        let planner = SchedulePlanner(
            entries: policy.schedules.map { SchedulePlanner.Entry(name: $0.name, trigger: $0.trigger, sources: $0.sources) },
            window: policy.window, windowZone: policy.timeZone)
        let planned = planner.plan(from: from, until: until, marks: marks)
        let paths = Dictionary(uniqueKeysWithValues: policy.sources.map { ($0.name, $0.snapshotSource) })
        let recorded = planned.map { PlannedRun(time: $0.time, schedule: $0.schedule, sources: $0.sources.map { paths[$0] ?? $0 }) }
        let verdicts = RetentionSimulator.simulate(runs: recorded, existing: existing, policy: policy.retention(forSite: site),
                                                   timeZone: policy.timeZone)
        let runs = planned.flatMap { run in run.sources.map { SimulationReport.Run(time: run.time, source: $0, schedule: run.schedule) } }
        return SimulationReport(tenant: policy.tenant, site: site, from: from, until: until, runs: runs, retention: verdicts)
    }
}

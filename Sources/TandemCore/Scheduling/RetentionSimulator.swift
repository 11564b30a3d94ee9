import Foundation

/// Replays a plan the way the daemon runs it: after each run, retention is applied to each
/// source's snapshots (as `forget` does), and what it drops is gone for later passes. The
/// result is the verdict on every snapshot that existed or was made, with the reasons of the
/// last pass that saw it.
public enum RetentionSimulator {
    /// A snapshot known before the simulation starts.
    public struct Existing: Sendable, Equatable {
        public var time: Date
        public var source: String
        public var authenticated: Bool

        public init(time: Date, source: String, authenticated: Bool = true) {
            self.time = time
            self.source = source
            self.authenticated = authenticated
        }
    }

    public static func simulate(runs: [PlannedRun], existing: [Existing], policy: RetentionPolicy?,
                                timeZone: TimeZone) -> [SimulationReport.Verdict] {
        struct Item {
            let id: String
            let time: Date
            let source: String
            let existing: Bool
            let authenticated: Bool
            var keep = true
            var reasons: [String] = []
            var removedAt: Date?
        }
        var items: [Item] = existing.enumerated().map {
            Item(id: "e\($0.offset)", time: $0.element.time, source: $0.element.source, existing: true,
                 authenticated: $0.element.authenticated, reasons: $0.element.authenticated ? ["existing"] : ["unauthenticated: ignored by retention"])
        }
        func pass(at now: Date) {
            guard let policy else { return }
            let live = items.indices.filter { items[$0].removedAt == nil && items[$0].authenticated }
            for source in Set(live.map { items[$0].source }) {
                let group = live.filter { items[$0].source == source }
                let decisions = Retention.decide(group.map { RetentionCandidate(id: items[$0].id, time: items[$0].time) },
                                                 policy: policy, timeZone: timeZone, now: now)
                let byID = Dictionary(uniqueKeysWithValues: decisions.map { ($0.id, $0) })
                for index in group {
                    guard let decision = byID[items[index].id] else { continue }
                    items[index].reasons = decision.keep ? decision.reasons : ["no rule keeps it"]
                    if !decision.keep {
                        items[index].keep = false
                        items[index].removedAt = now
                    }
                }
            }
        }
        var index = 0
        var counter = 0
        while index < runs.count {
            let time = runs[index].time
            while index < runs.count, runs[index].time == time {
                for source in runs[index].sources {
                    counter += 1
                    items.append(Item(id: "r\(counter)", time: time, source: source, existing: false, authenticated: true))
                }
                index += 1
            }
            pass(at: time)
        }
        return items.sorted { ($0.time, $0.source) < ($1.time, $1.source) }.map {
            SimulationReport.Verdict(snapshotTime: $0.time, source: $0.source, existing: $0.existing, keep: $0.keep,
                                     reasons: $0.reasons, removedAt: $0.removedAt)
        }
    }
}

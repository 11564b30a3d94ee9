import Foundation
import TandemCore

/// A retention verdict on one snapshot, with the group it was judged in.
public struct ForgetDecision: Sendable, Codable, Equatable {
    public let id: String
    public let time: Date
    public let source: String
    public let keep: Bool
    public let reasons: [String]
}

/// What `forget` decided and did.
public struct ForgetReport: Sendable, Codable {
    public let dryRun: Bool
    public let decisions: [ForgetDecision]
    public var removed: [String]
}

extension TenantRepository {
    /// Applies `policy` to each source's snapshots separately (one image's history never
    /// crowds out another's) and removes the manifests it does not keep. Only manifests go:
    /// the data they alone referenced is reclaimed by ``prune(options:)``.
    /// Snapshots in `protect` are kept whatever the rules say (the daemon protects those the
    /// remote site does not hold yet), with the reason given.
    public func forget(policy: RetentionPolicy, dryRun: Bool, now: Date, timeZone: TimeZone = .current,
                       protect: Set<String> = [], protectReason: String = "protected") async throws -> ForgetReport {
        try policy.validate()
        return try await holdingLock(exclusive: true) {
            try await runForget(policy: policy, dryRun: dryRun, now: now, timeZone: timeZone, protect: protect, protectReason: protectReason)
        }
    }

    private func runForget(policy: RetentionPolicy, dryRun: Bool, now: Date, timeZone: TimeZone, protect: Set<String>,
                           protectReason: String) async throws -> ForgetReport {
        try await reconcile()
        let snapshots = try index.snapshots()
        let groups = Dictionary(grouping: snapshots, by: { "\($0.kind.rawValue):\($0.source)" })
        var decisions: [ForgetDecision] = []
        for key in groups.keys.sorted() {
            let group = groups[key]!
            let source = group[0].source
            for verdict in Retention.decide(group.map { RetentionCandidate(id: $0.id, time: $0.time) }, policy: policy,
                                            timeZone: timeZone, now: now) {
                let protected = protect.contains(verdict.id)
                decisions.append(ForgetDecision(id: verdict.id, time: verdict.time, source: source, keep: verdict.keep || protected,
                                                reasons: verdict.reasons + (protected ? [protectReason] : [])))
            }
        }
        var report = ForgetReport(dryRun: dryRun, decisions: decisions, removed: [])
        guard !dryRun else { return report }
        for decision in decisions where !decision.keep {
            try Failpoint.reach("forget.delete.before")
            try await backend.delete(snapshotPath(decision.id))
            try index.removeSnapshot(decision.id)
            report.removed.append(decision.id)
        }
        return report
    }
}

import Foundation
import Synchronization
import TandemCore

/// What a job does.
public enum JobKind: Sendable, Equatable {
    /// Back up one source, then (if it succeeded) apply the tenant's retention at this site.
    case backup(source: String)
}

/// A queued or running job. Progress is an atomic counter because the backup pipeline's
/// workers report it from many tasks at once; everything else changes only on the daemon
/// actor.
public final class Job: Sendable {
    public let id: String
    public let tenant: String
    public let kind: JobKind
    /// A schedule's name, or `manual`.
    public let trigger: String
    let bytesDone = Atomic<Int64>(0)

    init(id: String, tenant: String, kind: JobKind, trigger: String) {
        self.id = id
        self.tenant = tenant
        self.kind = kind
        self.trigger = trigger
    }

    var source: String? {
        switch kind {
        case .backup(let source): source
        }
    }

    /// `tenant/source`: at most one job per key runs at a time.
    var exclusivityKey: String { "\(tenant)/\(source ?? "")" }
}

/// A job's public record, kept by the daemon actor.
struct JobEntry: Sendable {
    let job: Job
    var state: JobState
    var startedAt: Date?
    var finishedAt: Date?
    var snapshotID: String?
    var message: String?

    func status() -> JobStatus {
        let kind: String
        switch job.kind {
        case .backup: kind = "backup"
        }
        return JobStatus(id: job.id, tenant: job.tenant, kind: kind, source: job.source, state: state, trigger: job.trigger,
                         startedAt: startedAt, finishedAt: finishedAt, bytesDone: job.bytesDone.load(ordering: .relaxed),
                         snapshotId: snapshotID, message: message)
    }
}

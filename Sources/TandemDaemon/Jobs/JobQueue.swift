import Foundation
import TandemCore

/// The daemon's jobs and who may run now: the queue in start order (priority, then arrival),
/// the running jobs (one per `tenant/source`), the last finished ones, each tenant's outcomes,
/// and the tenants held whole (prune, repair, retention) or being opened, which no other job of
/// theirs may touch meanwhile.
///
/// A value owned by the ``Daemon`` actor, so every change happens on it; the waits (the runner
/// for its next job, a caller for idle, a switchover for a tenant's jobs to end) are kept here
/// as continuations and resumed by the change that ends them.
struct JobQueue: Sendable {
    /// Queued jobs, in the order they will start.
    private(set) var queued: [Job] = []
    /// Every job still queued or running, and the last ``finishedKept`` finished ones, by ID.
    private var entries: [String: JobEntry] = [:]
    private var finishedOrder: [String] = []
    /// `tenant/source` keys of running jobs.
    private var runningKeys: Set<String> = []
    /// Tenants held whole (retention, prune, repair): none of their jobs may start.
    private var held: Set<String> = []
    /// Tenants being opened now, with the openers waiting their turn.
    private var opening: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var counter = 0
    private(set) var stopped = false
    private var runner: CheckedContinuation<Job?, Never>?
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var tenantWaiters: [String: [UUID: CheckedContinuation<Bool, Never>]] = [:]
    /// What the daemon remembers about each tenant's runs.
    var outcomes: [String: TenantOutcome] = [:]
    /// How many finished jobs `jobs` keeps showing.
    static let finishedKept = 200

    /// What the daemon remembers about a tenant's runs.
    struct TenantOutcome: Sendable {
        var lastBackup: LastBackup?
        var lastSuccess: Date?
        var failures = 0
    }

    var runningCount: Int { runningKeys.count }
    var isIdle: Bool { runningKeys.isEmpty && queued.isEmpty }

    // MARK: Queueing

    /// The job already queued for `tenant/source`, if any (a second run coalesces with it).
    func queuedJob(tenant: String, source: String) -> Job? {
        queued.first { $0.exclusivityKey == "\(tenant)/\(source)" }
    }

    /// Queues a new backup job behind every job of the same or higher priority (lower number).
    mutating func enqueueBackup(tenant: String, source: String, trigger: String, priority: Int, idPrefix: String,
                                priorityOf: (String) -> Int) -> Job {
        counter += 1
        let job = Job(id: String(format: "%@-%06d", idPrefix, counter), tenant: tenant, kind: .backup(source: source), trigger: trigger)
        entries[job.id] = JobEntry(job: job, state: .queued)
        let position = queued.firstIndex { priorityOf($0.tenant) > priority } ?? queued.count
        queued.insert(job, at: position)
        return job
    }

    // MARK: Starting and finishing

    /// The next job that may start now (a free slot, its key not running, its tenant not held),
    /// marked running; nil if none may.
    mutating func start(limit: Int, now: Date) -> Job? {
        guard !stopped, runningKeys.count < limit else { return nil }
        guard let index = queued.firstIndex(where: { !runningKeys.contains($0.exclusivityKey) && !held.contains($0.tenant) })
        else { return nil }
        let job = queued.remove(at: index)
        runningKeys.insert(job.exclusivityKey)
        entries[job.id]?.state = .running
        entries[job.id]?.startedAt = now
        return job
    }

    /// Parks the runner until a job may start (``wakeRunner(limit:now:)``).
    mutating func park(_ continuation: CheckedContinuation<Job?, Never>) {
        runner = continuation
    }

    /// Hands the parked runner the next job, if one may start now.
    mutating func wakeRunner(limit: Int, now: Date) {
        guard let runner, let job = start(limit: limit, now: now) else { return }
        self.runner = nil
        runner.resume(returning: job)
    }

    /// No more jobs start; a parked runner gets nil.
    mutating func stop() {
        stopped = true
        runner?.resume(returning: nil)
        runner = nil
    }

    /// Records a finished job, lets the next one start, and wakes whoever waited for this.
    mutating func finish(_ job: Job, state: JobState, snapshotID: String?, message: String?, limit: Int, now: Date) {
        entries[job.id]?.state = state
        entries[job.id]?.finishedAt = now
        entries[job.id]?.snapshotID = snapshotID
        entries[job.id]?.message = message
        runningKeys.remove(job.exclusivityKey)
        finishedOrder.append(job.id)
        while finishedOrder.count > Self.finishedKept { entries[finishedOrder.removeFirst()] = nil }
        wakeRunner(limit: limit, now: now)
        if !isRunning(job.tenant), let waiting = tenantWaiters.removeValue(forKey: job.tenant) {
            waiting.values.forEach { $0.resume(returning: true) }
        }
        if isIdle {
            let waiting = idleWaiters
            idleWaiters = []
            waiting.forEach { $0.resume() }
        }
    }

    /// Parks a caller until no job is queued or running.
    mutating func awaitIdle(_ continuation: CheckedContinuation<Void, Never>) {
        if isIdle { continuation.resume() } else { idleWaiters.append(continuation) }
    }

    /// Parks a caller until no job of `tenant` runs (true), or until ``giveUpWaiting(_:tenant:)``
    /// with the same `id` (false).
    mutating func awaitTenantJobsEnd(_ tenant: String, id: UUID, _ continuation: CheckedContinuation<Bool, Never>) {
        if isRunning(tenant) { tenantWaiters[tenant, default: [:]][id] = continuation } else { continuation.resume(returning: true) }
    }

    /// Ends a wait of ``awaitTenantJobsEnd(_:id:_:)`` that is still parked.
    mutating func giveUpWaiting(_ id: UUID, tenant: String) {
        tenantWaiters[tenant]?.removeValue(forKey: id)?.resume(returning: false)
    }

    // MARK: Tenants

    /// Whether a job of `tenant` runs now.
    func isRunning(_ tenant: String) -> Bool {
        runningKeys.contains { $0.hasPrefix("\(tenant)/") }
    }

    /// Whether another job of `tenant` runs besides `job`, or one of it is queued.
    func hasOtherWork(_ tenant: String, besides job: Job) -> Bool {
        runningKeys.contains { $0.hasPrefix("\(tenant)/") && $0 != job.exclusivityKey } || queued.contains { $0.tenant == tenant }
    }

    /// Holds `tenant` whole (no job of it starts) if none of its jobs runs and it is not held
    /// already; false otherwise.
    mutating func hold(_ tenant: String) -> Bool {
        guard !isRunning(tenant), !held.contains(tenant) else { return false }
        held.insert(tenant)
        return true
    }

    /// Holds `tenant` from inside one of its own jobs (retention after a backup).
    mutating func holdFromItsJob(_ tenant: String) {
        held.insert(tenant)
    }

    /// Ends a hold and lets the tenant's queued jobs start.
    mutating func release(_ tenant: String, limit: Int, now: Date) {
        held.remove(tenant)
        wakeRunner(limit: limit, now: now)
    }

    /// Gives `tenant`'s opener turn to `continuation` at once, or when the openers before it end.
    mutating func waitOpenerTurn(_ tenant: String, _ continuation: CheckedContinuation<Void, Never>) {
        if opening[tenant] == nil {
            opening[tenant] = []
            continuation.resume()
        } else {
            opening[tenant, default: []].append(continuation)
        }
    }

    /// Passes the tenant's opener turn to the next waiting opener.
    mutating func endOpenerTurn(_ tenant: String) {
        guard var waiting = opening[tenant], !waiting.isEmpty else {
            opening[tenant] = nil
            return
        }
        let next = waiting.removeFirst()
        opening[tenant] = waiting
        next.resume()
    }

    // MARK: Reading

    func status(of id: String) -> JobStatus? { entries[id]?.status() }

    func statuses(tenant: String?) -> [JobStatus] {
        entries.values.filter { tenant == nil || $0.job.tenant == tenant }.map { $0.status() }.sorted { $0.id < $1.id }
    }
}

import Foundation
import TandemCore
import TandemPolicy

extension Daemon {
    /// Queues a backup of `source`. A source already queued is not queued twice (the runs
    /// coalesce); one already running gets one follow-up run after it ends.
    @discardableResult
    func enqueueBackup(tenant: String, source: String, trigger: String) throws -> Job {
        let policy = try policy(tenant)
        guard policy.source(named: source) != nil else {
            throw DaemonError.notFound("tenant \(tenant) has no source '\(source)' (sources: \(policy.sources.map(\.name).joined(separator: ", ")))")
        }
        if let queued = jobQueue.queuedJob(tenant: tenant, source: source) {
            logger.info("run coalesced with the one already queued", metadata: ["tenant": "\(tenant)", "source": "\(source)", "trigger": "\(trigger)"])
            return queued
        }
        let policies = self.policies
        let job = jobQueue.enqueueBackup(tenant: tenant, source: source, trigger: trigger, priority: policy.priority,
                                         idPrefix: Self.jobPrefix(clock.now())) { policies.tenant($0)?.priority ?? 5 }
        metrics.queueDepth(jobQueue.queued.count)
        wakeRunner()
        return job
    }

    static func jobPrefix(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// The next job that may start now, waiting until there is one and a free slot; nil once
    /// the daemon shuts down (or the waiting task is cancelled).
    func takeRunnable() async -> Job? {
        if let job = startNext() { return job }
        if jobQueue.stopped { return nil }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if let job = startNext() {
                    continuation.resume(returning: job)
                } else if jobQueue.stopped || Task.isCancelled {
                    continuation.resume(returning: nil)
                } else {
                    jobQueue.park(continuation)
                }
            }
        } onCancel: {
            Task { await self.stopTaking() }
        }
    }

    /// Wakes a waiting ``takeRunnable()`` with nil: no more jobs start.
    func stopTaking() {
        jobQueue.stop()
    }

    private func startNext() -> Job? {
        let job = jobQueue.start(limit: policies.site.maxConcurrentJobs, now: clock.now())
        if job != nil { countJobs() }
        return job
    }

    func wakeRunner() {
        jobQueue.wakeRunner(limit: policies.site.maxConcurrentJobs, now: clock.now())
        countJobs()
    }

    private func countJobs() {
        metrics.queueDepth(jobQueue.queued.count)
        metrics.runningJobs(jobQueue.runningCount)
    }

    /// Records a finished job and lets the next one start.
    func finish(_ job: Job, state: JobState, snapshotID: String?, message: String?) {
        jobQueue.finish(job, state: state, snapshotID: snapshotID, message: message, limit: policies.site.maxConcurrentJobs,
                        now: clock.now())
        countJobs()
    }

    /// Returns once no job is queued or running (tests, and `backup now --wait`).
    public func waitUntilIdle() async {
        if jobQueue.isIdle { return }
        await withCheckedContinuation { jobQueue.awaitIdle($0) }
    }

    /// Returns true once no job of `tenant` runs, false if one still does after `limit`.
    func waitForJobsToEnd(_ tenant: String, within limit: Duration) async -> Bool {
        guard jobQueue.isRunning(tenant) else { return true }
        let id = UUID()
        let timer = Task {
            try? await Task.sleep(for: limit)
            self.giveUpWaiting(id, tenant: tenant)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { jobQueue.awaitTenantJobsEnd(tenant, id: id, $0) }
    }

    private func giveUpWaiting(_ id: UUID, tenant: String) {
        jobQueue.giveUpWaiting(id, tenant: tenant)
    }

    /// Ends a hold of ``JobQueue/hold(_:)`` and lets the tenant's queued jobs start.
    func releaseTenant(_ tenant: String) {
        jobQueue.release(tenant, limit: policies.site.maxConcurrentJobs, now: clock.now())
        countJobs()
    }

    /// One opener per tenant at a time, so two jobs of a new tenant never both create it.
    func withOpenerTurn<T>(_ tenant: String, _ open: () async throws -> T) async throws -> T {
        await withCheckedContinuation { jobQueue.waitOpenerTurn(tenant, $0) }
        defer { jobQueue.endOpenerTurn(tenant) }
        return try await open()
    }

    public func job(_ id: String) -> JobStatus? { jobQueue.status(of: id) }

    public func jobs(tenant: String? = nil) -> [JobStatus] { jobQueue.statuses(tenant: tenant) }
}

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
        let key = "\(tenant)/\(source)"
        if let queued = queue.first(where: { $0.exclusivityKey == key }) {
            logger.info("run coalesced with the one already queued", metadata: ["tenant": "\(tenant)", "source": "\(source)", "trigger": "\(trigger)"])
            return queued
        }
        jobCounter += 1
        let job = Job(id: String(format: "%@-%06d", Self.jobPrefix(clock.now()), jobCounter), tenant: tenant,
                      kind: .backup(source: source), trigger: trigger)
        entries[job.id] = JobEntry(job: job, state: .queued)
        let priority = policy.priority
        let position = queue.firstIndex { (try? self.policy($0.tenant).priority) ?? 5 > priority } ?? queue.count
        queue.insert(job, at: position)
        metrics.queueDepth(queue.count)
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
        if let job = popRunnable() { return job }
        if shuttingDown { return nil }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if let job = popRunnable() {
                    continuation.resume(returning: job)
                } else if shuttingDown || Task.isCancelled {
                    continuation.resume(returning: nil)
                } else {
                    waiter = continuation
                }
            }
        } onCancel: {
            Task { await self.stopTaking() }
        }
    }

    /// Wakes a waiting ``takeRunnable()`` with nil: no more jobs start.
    func stopTaking() {
        shuttingDown = true
        waiter?.resume(returning: nil)
        waiter = nil
    }

    private func popRunnable() -> Job? {
        guard !shuttingDown, runningCount < policies.site.maxConcurrentJobs else { return nil }
        guard let index = queue.firstIndex(where: { !runningKeys.contains($0.exclusivityKey) && !retentionRunning.contains($0.tenant) })
        else { return nil }
        let job = queue.remove(at: index)
        runningKeys.insert(job.exclusivityKey)
        runningCount += 1
        entries[job.id]?.state = .running
        entries[job.id]?.startedAt = clock.now()
        metrics.queueDepth(queue.count)
        metrics.runningJobs(runningCount)
        return job
    }

    func wakeRunner() {
        guard let waiter, let job = popRunnable() else { return }
        self.waiter = nil
        waiter.resume(returning: job)
    }

    /// Records a finished job and lets the next one start.
    func finish(_ job: Job, state: JobState, snapshotID: String?, message: String?) {
        entries[job.id]?.state = state
        entries[job.id]?.finishedAt = clock.now()
        entries[job.id]?.snapshotID = snapshotID
        entries[job.id]?.message = message
        runningKeys.remove(job.exclusivityKey)
        runningCount -= 1
        metrics.runningJobs(runningCount)
        finishedOrder.append(job.id)
        while finishedOrder.count > 200 { entries[finishedOrder.removeFirst()] = nil }
        wakeRunner()
        if runningCount == 0 && queue.isEmpty {
            let waiting = idleWaiters
            idleWaiters = []
            waiting.forEach { $0.resume() }
        }
    }

    /// Returns once no job is queued or running (tests, and `backup now --wait`).
    public func waitUntilIdle() async {
        if runningCount == 0 && queue.isEmpty { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    /// Whether another job of `tenant` is running besides `job`.
    func tenantBusy(_ tenant: String, except job: Job) -> Bool {
        runningKeys.contains { $0.hasPrefix("\(tenant)/") && $0 != job.exclusivityKey }
    }

    public func job(_ id: String) -> JobStatus? { entries[id]?.status() }

    public func jobs(tenant: String? = nil) -> [JobStatus] {
        entries.values.filter { tenant == nil || $0.job.tenant == tenant }.map { $0.status() }.sorted { $0.id < $1.id }
    }
}

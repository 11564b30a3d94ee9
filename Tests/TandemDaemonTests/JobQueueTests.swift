import Foundation
import Testing
import TandemCore
@testable import TandemDaemon

/// The job queue's rules on their own, without a daemon: start order, one run per source,
/// the concurrency limit, held tenants, and the waits it ends.
@Suite struct JobQueueTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let priorities = ["urgent": 1, "normal": 5, "idle": 9]

    func enqueue(_ queue: inout JobQueue, _ tenant: String, _ source: String = "data") -> Job {
        queue.enqueueBackup(tenant: tenant, source: source, trigger: "manual", priority: Self.priorities[tenant] ?? 5,
                            idPrefix: "T") { Self.priorities[$0] ?? 5 }
    }

    @Test func jobsStartByPriorityThenArrival() {
        var queue = JobQueue()
        let first = enqueue(&queue, "normal", "a")
        let idle = enqueue(&queue, "idle")
        let second = enqueue(&queue, "normal", "b")
        let urgent = enqueue(&queue, "urgent")
        #expect(queue.queued.map(\.id) == [urgent.id, first.id, second.id, idle.id])
        var started: [String] = []
        while let job = queue.start(limit: 10, now: now) { started.append(job.id) }
        #expect(started == [urgent.id, first.id, second.id, idle.id])
        #expect(Set([urgent, first, second, idle].map(\.id)).count == 4, "job IDs are unique")
    }

    @Test func aSourceRunsOnceAtATimeAndTheLimitHolds() {
        var queue = JobQueue()
        let running = enqueue(&queue, "normal")
        #expect(queue.start(limit: 2, now: now)?.id == running.id)
        let followUp = enqueue(&queue, "normal")
        #expect(queue.queuedJob(tenant: "normal", source: "data")?.id == followUp.id)
        #expect(queue.start(limit: 2, now: now) == nil, "the same source must not run twice at once")
        _ = enqueue(&queue, "idle", "x")
        _ = enqueue(&queue, "idle", "y")
        #expect(queue.start(limit: 2, now: now)?.tenant == "idle")
        #expect(queue.start(limit: 2, now: now) == nil, "the limit is 2")
        queue.finish(running, state: .succeeded, snapshotID: "s", message: nil, limit: 2, now: now)
        #expect(queue.start(limit: 2, now: now)?.id == followUp.id, "the follow-up starts once the first run ended")
        #expect(queue.status(of: running.id)?.state == .succeeded)
    }

    @Test func aHeldTenantStartsNothingAndCannotBeHeldWhileItRuns() {
        var queue = JobQueue()
        let held = queue.hold("normal"), heldTwice = queue.hold("normal")
        #expect(held)
        #expect(!heldTwice, "a second hold of the same tenant is refused")
        let job = enqueue(&queue, "normal")
        #expect(queue.start(limit: 4, now: now) == nil)
        queue.release("normal", limit: 4, now: now)
        #expect(queue.start(limit: 4, now: now)?.id == job.id)
        let heldWhileRunning = queue.hold("normal")
        #expect(!heldWhileRunning, "a tenant with a running job cannot be held")
        #expect(queue.isRunning("normal") && !queue.isRunning("norm"))
        queue.finish(job, state: .failed, snapshotID: nil, message: "x", limit: 4, now: now)
        let heldAfter = queue.hold("normal")
        #expect(heldAfter)
    }

    @Test func otherWorkOfTheTenantDefersItsRetention() {
        var queue = JobQueue()
        let a = enqueue(&queue, "normal", "a")
        let b = enqueue(&queue, "normal", "b")
        _ = queue.start(limit: 4, now: now)
        #expect(queue.hasOtherWork("normal", besides: a), "b is queued")
        _ = queue.start(limit: 4, now: now)
        #expect(queue.hasOtherWork("normal", besides: a), "b is running")
        queue.finish(b, state: .succeeded, snapshotID: nil, message: nil, limit: 4, now: now)
        #expect(!queue.hasOtherWork("normal", besides: a))
    }

    @Test func finishedJobsAreKeptUpToTheCap() {
        var queue = JobQueue()
        var ids: [String] = []
        for index in 0..<(JobQueue.finishedKept + 5) {
            let job = enqueue(&queue, "normal", "s\(index)")
            ids.append(job.id)
            _ = queue.start(limit: 1, now: now)
            queue.finish(job, state: .succeeded, snapshotID: nil, message: nil, limit: 1, now: now)
        }
        #expect(queue.statuses(tenant: nil).count == JobQueue.finishedKept)
        #expect(queue.status(of: ids[4]) == nil && queue.status(of: ids[5]) != nil)
        #expect(queue.statuses(tenant: "other").isEmpty)
    }

    /// The waits end on the change that ends them, not on a poll.
    @Test func waitsEndWhenTheirJobsEnd() async {
        let box = QueueBox()
        let job = await box.startOne("a")
        let other = await box.startOne("b")
        let waiting = UUID()
        async let tenantEnded = box.waitForTenant("normal", id: waiting)
        async let idle: Void = box.waitIdle()
        let given = UUID()
        async let givenUp = box.waitForTenant("normal", id: given)
        await box.untilWaiting(3)
        await box.giveUp(given)
        #expect(await givenUp == false)
        await box.finish(job)
        for _ in 0..<100 { await Task.yield() }
        #expect(await box.ended[waiting] == nil, "another job of the tenant still runs")
        await box.finish(other)
        #expect(await tenantEnded == true)
        await idle
        #expect(await box.waitForTenant("normal", id: UUID()) == true, "nothing runs: the wait ends at once")
    }

    @Test func stoppingGivesTheParkedRunnerNil() async {
        let box = QueueBox()
        async let next = box.nextJob()
        await box.untilWaiting(1)
        await box.stop()
        #expect(await next == nil)
    }
}

/// A job queue on an actor, as the daemon holds it, for the waits.
private actor QueueBox {
    var queue = JobQueue()
    var parked = 0
    var ended: [UUID: Bool] = [:]

    func startOne(_ source: String) -> Job {
        _ = queue.enqueueBackup(tenant: "normal", source: source, trigger: "t", priority: 5, idPrefix: "T") { _ in 5 }
        return queue.start(limit: 2, now: Date())!
    }

    func waitForTenant(_ tenant: String, id: UUID) async -> Bool {
        parked += 1
        let result = await withCheckedContinuation { queue.awaitTenantJobsEnd(tenant, id: id, $0) }
        ended[id] = result
        return result
    }

    func waitIdle() async {
        parked += 1
        await withCheckedContinuation { queue.awaitIdle($0) }
    }

    func nextJob() async -> Job? {
        parked += 1
        return await withCheckedContinuation { queue.park($0) }
    }

    func untilWaiting(_ count: Int) async {
        while parked < count { await Task.yield() }
    }

    func giveUp(_ id: UUID) { queue.giveUpWaiting(id, tenant: "normal") }
    func finish(_ job: Job) { queue.finish(job, state: .succeeded, snapshotID: nil, message: nil, limit: 2, now: Date()) }
    func stop() { queue.stop() }
}

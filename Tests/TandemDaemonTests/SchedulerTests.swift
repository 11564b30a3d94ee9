import Foundation
import Testing
import TandemCore
@testable import TandemDaemon
import TandemPolicy
import TandemStore

@Suite(.serialized) struct SchedulerTests {
    /// 90 simulated days of a nightly schedule with retention at this site: every run
    /// commits a snapshot, retention keeps exactly what the rules say, and the whole thing
    /// runs in seconds on the manual clock.
    @Test func ninetyDaysOfSchedulesAndRetention() async throws {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy(extra: """
        retention:
          keep_daily: 7
          keep_weekly: 4
          keep_monthly: 2
        """)
        let start = utcDate("2026-01-01T00:00:00Z")
        try await RunningDaemon.with(fixture, at: start) { running in
            await running.daemon.fireDueSchedules()
            for day in 0..<90 {
                // Change one file a day so each snapshot differs.
                try Data("day \(day)".utf8).write(to: URL(fileURLWithPath: fixture.data + "/docs/f0.txt"))
                await running.step(to: start.addingTimeInterval(Double(day) * 86400 + 5400 + 1))
            }
            let status = await running.daemon.status(for: operatorCaller, metricsAddress: nil)
            #expect(status.tenants.first?.failures == 0)
            let snapshots = try await running.daemon.snapshots(tenant: "alpha").snapshots
            // What retention keeps, recomputed independently from the 90 run times.
            let times = (0..<90).map { start.addingTimeInterval(Double($0) * 86400 + 5400 + 1) }
            var survivors = [RetentionCandidate]()
            for (i, time) in times.enumerated() {
                survivors.append(RetentionCandidate(id: "\(i)", time: time))
                let decisions = Retention.decide(survivors, policy: RetentionPolicy(keepDaily: 7, keepWeekly: 4, keepMonthly: 2),
                                                 timeZone: TimeZone(identifier: "UTC")!, now: time)
                let keep = Set(decisions.filter(\.keep).map(\.id))
                survivors = survivors.filter { keep.contains($0.id) }
            }
            #expect(snapshots.count == survivors.count)
            #expect(Set(snapshots.map { Int($0.time.timeIntervalSince1970) }) == Set(survivors.map { Int($0.time.timeIntervalSince1970) }))
            #expect(snapshots.count >= 7 && snapshots.count <= 13)
        }
    }

    /// Downtime: five nightly slots missed while the daemon was down give one run at start.
    @Test func missedRunsRunOnceOnStart() async throws {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy()
        let start = utcDate("2026-02-01T00:00:00Z")
        try await RunningDaemon.with(fixture, at: start) { running in
            await running.daemon.fireDueSchedules()
            await running.step(to: start.addingTimeInterval(5401))
            let n = try await count(running)
            #expect(n == 1)
        }
        // "Restart" five days later: marks come from the state directory.
        try await RunningDaemon.with(fixture, at: start.addingTimeInterval(5 * 86400 + 3600)) { running in
            let queued = await running.daemon.fireDueSchedules()
            #expect(queued == 1)
            await running.daemon.waitUntilIdle()
            let n = try await count(running)
            #expect(n == 2)
            #expect(await running.daemon.fireDueSchedules() == 0)
        }
    }

    /// A run due outside the backup window waits for it.
    @Test func aRunOutsideTheWindowWaits() async throws {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy(schedule: "cron: \"0 12 * * *\"", extra: "window: \"22:00-06:00\"")
        let start = utcDate("2026-02-01T00:00:00Z")
        try await RunningDaemon.with(fixture, at: start) { running in
            await running.daemon.fireDueSchedules()
            await running.step(to: utcDate("2026-02-01T12:00:01Z"))
            let n = try await count(running)
            #expect(n == 0)
            await running.step(to: utcDate("2026-02-01T22:00:00Z"))
            let m = try await count(running)
            #expect(m == 1)
        }
    }

    /// Never two runs of one source at once: a second request while one is queued coalesces.
    @Test func runsOfOneSourceCoalesce() async throws {
        let fixture = try SiteFixture()
        try fixture.writeBasicPolicy()
        try await RunningDaemon.with(fixture, at: utcDate("2026-02-01T00:00:00Z")) { running in
            await running.daemon.stopTaking()  // hold the queue still
            let a = try await running.daemon.backupNow(tenant: "alpha", source: nil, caller: operatorCaller)
            let b = try await running.daemon.backupNow(tenant: "alpha", source: "docs", caller: operatorCaller)
            #expect(a.map(\.id) == b.map(\.id))
            #expect(await running.daemon.jobs().count == 1)
        }
    }
}

func count(_ running: RunningDaemon, tenant: String = "alpha") async throws -> Int {
    try await running.daemon.snapshots(tenant: tenant).snapshots.count
}

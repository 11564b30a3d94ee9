import Foundation
import Testing
@testable import TandemCore

@Suite struct SchedulePlannerTests {
    let utc = TimeZone(identifier: "UTC")!

    func date(_ text: String) -> Date { ControlJSON.parseTime(text)! }

    func daily(_ expression: String = "30 1 * * *", zone: TimeZone? = nil) throws -> SchedulePlanner.Entry {
        SchedulePlanner.Entry(name: "nightly", trigger: .cron(try CronExpression(expression), zone ?? utc), sources: ["data"])
    }

    @Test func missedCronSlotsCollapseIntoOneRunAtStart() throws {
        let planner = SchedulePlanner(entries: [try daily()], window: nil, windowZone: utc)
        // Last handled five days ago: five nightly slots were missed while the daemon was down.
        let mark = SchedulePlanner.Mark(handledUntil: date("2026-03-01T12:00:00Z"), everRan: true)
        let now = date("2026-03-06T09:00:00Z")
        #expect(planner.startsDue(marks: ["nightly": mark], now: now).map(\.name) == ["nightly"])
        // After that one run, the next is the next real slot, not another catch-up.
        let after = SchedulePlanner.markStarted(at: now)
        #expect(planner.startsDue(marks: ["nightly": after], now: now).isEmpty)
        #expect(planner.nextWake(marks: ["nightly": after], now: now) == date("2026-03-07T01:30:00Z"))
    }

    @Test func aNewCronScheduleDoesNotCatchUp() throws {
        let planner = SchedulePlanner(entries: [try daily()], window: nil, windowZone: utc)
        let now = date("2026-03-06T09:00:00Z")
        #expect(planner.startsDue(marks: [:], now: now).isEmpty)
        #expect(planner.nextWake(marks: [:], now: now) == date("2026-03-07T01:30:00Z"))
    }

    @Test func anIntervalScheduleRunsAtOnceThenEveryInterval() {
        let entry = SchedulePlanner.Entry(name: "often", trigger: .every(900), sources: ["db"])
        let planner = SchedulePlanner(entries: [entry], window: nil, windowZone: utc)
        let start = date("2026-03-06T09:00:00Z")
        let runs = planner.plan(from: start, until: start.addingTimeInterval(3600))
        #expect(runs.map(\.time) == (0...4).map { start.addingTimeInterval(Double($0) * 900) })
    }

    @Test func aRunOutsideTheWindowWaitsForItAndRunsOnce() throws {
        let window = try TimeWindow(parsing: "22:00-06:00")
        let planner = SchedulePlanner(entries: [try daily("0 12 * * *")], window: window, windowZone: utc)
        let runs = planner.plan(from: date("2026-03-06T00:00:00Z"), until: date("2026-03-09T00:00:00Z"))
        #expect(runs.map(\.time) == [date("2026-03-06T22:00:00Z"), date("2026-03-07T22:00:00Z"), date("2026-03-08T22:00:00Z")])
        // An interval schedule outside the window is also held, then runs once, not once per missed interval.
        let often = SchedulePlanner(entries: [.init(name: "often", trigger: .every(600), sources: ["db"])], window: window, windowZone: utc)
        let held = often.plan(from: date("2026-03-06T06:00:00Z"), until: date("2026-03-06T22:05:00Z"),
                              marks: ["often": .init(handledUntil: date("2026-03-06T05:59:00Z"), everRan: true)])
        #expect(held.map(\.time) == [date("2026-03-06T22:00:00Z")])
    }

    @Test func ninetyDaysOfSchedulesPlanTheExpectedRuns() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let entries = [try daily("30 2 * * *", zone: berlin),
                       SchedulePlanner.Entry(name: "hourly", trigger: .cron(try CronExpression("0 * * * *"), berlin), sources: ["db"])]
        let planner = SchedulePlanner(entries: entries, window: nil, windowZone: berlin)
        // Mid-March to mid-June crosses the spring-forward night, where 02:30 does not exist.
        let start = date("2026-03-15T00:00:00Z")
        let runs = planner.plan(from: start, until: start.addingTimeInterval(90 * 86400))
        #expect(runs.filter { $0.schedule == "nightly" }.count == 90)
        // Every real hour has one local hour at :00, skipped local hour or not.
        #expect(runs.filter { $0.schedule == "hourly" }.count == 90 * 24)
        // The nightly run on the spring-forward night starts when the gap ends (03:00 CEST).
        #expect(runs.contains { $0.schedule == "nightly" && $0.time == date("2026-03-29T01:00:00Z") })
        #expect(runs == runs.sorted { $0.time < $1.time })
    }

    @Test func retentionSimulationKeepsWhatTheRulesSayAfterEveryRun() throws {
        let planner = SchedulePlanner(entries: [try daily()], window: nil, windowZone: utc)
        let start = date("2026-01-01T00:00:00Z")
        let runs = planner.plan(from: start, until: start.addingTimeInterval(90 * 86400))
        let policy = RetentionPolicy(keepDaily: 7, keepWeekly: 4, keepMonthly: 3)
        let verdicts = RetentionSimulator.simulate(runs: runs, existing: [], policy: policy, timeZone: utc)
        #expect(verdicts.count == 90)
        let kept = verdicts.filter(\.keep)
        // 7 dailies, then the newest of 4 more ISO weeks and 3 months overlapping them.
        #expect(kept.count <= 7 + 4 + 3 && kept.count >= 7)
        #expect(kept.last?.snapshotTime == runs.last?.time)
        #expect(kept.last?.reasons.first == "newest snapshot")
        for verdict in verdicts where !verdict.keep {
            #expect(verdict.removedAt != nil && verdict.reasons == ["no rule keeps it"])
        }
    }

    @Test func unauthenticatedSnapshotsAreIgnoredByTheSimulation() {
        let policy = RetentionPolicy(keepLast: 1)
        let t = date("2026-01-01T00:00:00Z")
        let verdicts = RetentionSimulator.simulate(
            runs: [PlannedRun(time: t.addingTimeInterval(3600), schedule: "s", sources: ["data"])],
            existing: [.init(time: t, source: "data", authenticated: false)], policy: policy, timeZone: utc)
        let forged = verdicts.first { $0.existing }
        #expect(forged?.keep == true && forged?.reasons == ["unauthenticated: ignored by retention"])
    }
}

@Suite struct RetentionGoldenAdditions {
    let utc = TimeZone(identifier: "UTC")!

    @Test func theNewestSnapshotIsAlwaysKept() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        // Everything is older than keep_within: without the rule, nothing would be kept.
        let old = (1...5).map { RetentionCandidate(id: "s\($0)", time: now.addingTimeInterval(-Double($0) * 86400 * 30)) }
        let decisions = Retention.decide(old, policy: RetentionPolicy(keepWithin: 86400), timeZone: utc, now: now)
        #expect(decisions.map(\.keep) == [true, false, false, false, false])
        #expect(decisions[0].reasons == ["newest snapshot"])
    }

    @Test func unauthenticatedSnapshotsNeitherCountNorGetRemoved() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let real = (0..<3).map { RetentionCandidate(id: "r\($0)", time: now.addingTimeInterval(-Double($0) * 86400)) }
        // A forged snapshot newer than all real ones must not push the real ones out.
        let forged = RetentionCandidate(id: "forged", time: now.addingTimeInterval(60), authenticated: false)
        let decisions = Retention.decide(real + [forged], policy: RetentionPolicy(keepLast: 2), timeZone: utc, now: now)
        #expect(decisions.map(\.id) == ["r0", "r1", "r2"])
        #expect(decisions.map(\.keep) == [true, true, false])
    }
}

import Foundation
import Testing
import TandemCore

@Suite struct RetentionTests {
    let utc = TimeZone(identifier: "UTC")!
    /// One snapshot every 6 hours for 40 days, ending 2026-03-10 18:00 UTC.
    var snapshots: [RetentionCandidate] {
        let end = Date(timeIntervalSince1970: 1_773_165_600)
        return (0..<160).map { RetentionCandidate(id: String(format: "s%03d", $0), time: end.addingTimeInterval(-Double($0) * 6 * 3600)) }
    }

    func kept(_ policy: RetentionPolicy) -> [String] {
        Retention.decide(snapshots, policy: policy, timeZone: utc, now: snapshots[0].time).filter(\.keep).map(\.id)
    }

    @Test func keepLast() {
        #expect(kept(RetentionPolicy(keepLast: 3)) == ["s000", "s001", "s002"])
    }

    @Test func keepDailyKeepsNewestOfEachDay() {
        // 18:00, 12:00, 06:00, 00:00 each day: the 18:00 one is the day's newest.
        #expect(kept(RetentionPolicy(keepDaily: 3)) == ["s000", "s004", "s008"])
    }

    @Test func rulesCombineWithReasons() {
        let decisions = Retention.decide(snapshots, policy: RetentionPolicy(keepLast: 2, keepDaily: 2, keepMonthly: 2),
                                         timeZone: utc, now: snapshots[0].time)
        #expect(decisions[0].reasons == ["newest snapshot", "last snapshot", "daily snapshot", "monthly snapshot"])
        #expect(decisions[1].reasons == ["last snapshot"])
        #expect(decisions[4].reasons == ["daily snapshot"])
        let february = decisions.first { $0.keep && $0.reasons == ["monthly snapshot"] }
        #expect(february?.id == "s040")  // 2026-02-28 18:00, the newest of February
        #expect(decisions.filter(\.keep).count == 4)
    }

    @Test func weeklyUsesISOWeeks() {
        let ids = kept(RetentionPolicy(keepWeekly: 2))
        // 2026-03-10 is a Tuesday; the previous ISO week ends Sunday 2026-03-08 18:00 (s008).
        #expect(ids == ["s000", "s008"])
    }

    @Test func timeZoneShiftsBuckets() {
        let shanghai = TimeZone(identifier: "Asia/Shanghai")!
        let ids = Retention.decide(snapshots, policy: RetentionPolicy(keepDaily: 2), timeZone: shanghai, now: snapshots[0].time)
            .filter(\.keep).map(\.id)
        // In UTC+8, 18:00 UTC is 02:00 the next day, so 12:00 UTC (20:00 local) is the previous day's newest.
        #expect(ids == ["s000", "s001"])
    }

    @Test func keepWithin() {
        let ids = Retention.decide(snapshots, policy: RetentionPolicy(keepWithin: 24 * 3600), timeZone: utc, now: snapshots[0].time)
            .filter(\.keep).map(\.id)
        #expect(ids == ["s000", "s001", "s002", "s003"])
    }

    @Test func policyThatKeepsNothingIsRefused() {
        #expect(throws: RetentionError.keepsNothing) { try RetentionPolicy().validate() }
        #expect(throws: RetentionError.keepsNothing) { try RetentionPolicy(keepLast: 0).validate() }
        #expect(throws: RetentionError.negative) { try RetentionPolicy(keepLast: -1).validate() }
    }
}

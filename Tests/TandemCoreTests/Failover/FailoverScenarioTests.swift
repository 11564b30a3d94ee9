import Testing
@testable import TandemCore

/// Three sites wired in memory (``FailoverCluster``), standard settings (L = 10 s, D = 0.5 s),
/// 5 ms links, 1 ms steps, perfect clocks unless stated.
@Suite struct FailoverScenarioTests {
    let north = FailoverFixture.north, south = FailoverFixture.south, remote = FailoverFixture.remote

    func cluster() -> FailoverCluster {
        FailoverCluster(settings: FailoverFixture.settings, tenants: ["alpha": FailoverFixture.north])
    }

    /// Real time (ns) at which `site`'s clock will read `instant`, assuming its current rate.
    func realTime(of instant: MonotonicInstant, at site: FailoverCluster.Site, in cluster: FailoverCluster) -> Int64 {
        cluster.realTime + Int64(Double((instant - site.now).clampedNanoseconds) / site.rate)
    }

    func starts(_ cluster: FailoverCluster, _ site: SiteID) -> [FailoverCluster.WriterChange] {
        cluster.changes.filter { $0.site == site && $0.writing }
    }

    func stops(_ cluster: FailoverCluster, _ site: SiteID) -> [FailoverCluster.WriterChange] {
        cluster.changes.filter { $0.site == site && !$0.writing }
    }

    @Test func normalRenewalsKeepOneWriterWithoutAGap() {
        let cluster = FailoverCluster(settings: FailoverFixture.settings, tenants: ["alpha": north, "beta": south])
        cluster.run(seconds: 60)
        #expect(cluster.violations.isEmpty)
        #expect(cluster.promotions.isEmpty)
        #expect(cluster.writersNow("alpha") == [north])
        #expect(cluster.writersNow("beta") == [south])
        #expect(cluster.changes.map(\.writing) == [true, true])      // each home started once, never stopped
        #expect(cluster.stepsWithWriter["alpha", default: 0] >= cluster.steps - 20)
        for site in cluster.sites.values {
            #expect(site.grantors.values.allSatisfy { $0.refusals.isEmpty })
        }
    }

    @Test func theHomeSiteDiesAndTheTwinTakesOverRightAfterTheOldLease() throws {
        let cluster = cluster()
        cluster.run(seconds: 5.3)
        let twin = cluster.site(south)
        let expected = realTime(of: try #require(twin.watchers["alpha"]).oldLeaseEnd, at: twin, in: cluster)
        let died = cluster.realTime
        cluster.crash(north)
        cluster.run(seconds: 20)
        let promotion = try #require(cluster.promotions.first)
        #expect(cluster.promotions.count == 1)
        #expect(promotion.site == south)
        #expect(promotion.promotion == Promotion(epoch: Epoch(2), previousEpoch: .initial, previousSite: north, cause: .failover))
        // Three missed heartbeats come after 3 s; the lease decides: 10 s after the last heartbeat,
        // or the rest of the witness's promise counted from its answer's arrival (5 ms later).
        #expect(promotion.time > expected && promotion.time <= expected + 6_000_000, "\(promotion.time - expected) ns late")
        #expect(promotion.time - died < 10_000_000_000)
        let start = try #require(starts(cluster, south).first)
        #expect(start.epoch == Epoch(2))
        #expect(start.time - promotion.time <= 20_000_000)
        #expect(cluster.violations.isEmpty)
    }

    @Test func aPartitionBetweenTheNearSitesNeverPromotesTheTwin() throws {
        let cluster = cluster()
        cluster.run(seconds: 2)
        cluster.cut(north, south)
        cluster.run(seconds: 60)
        #expect(cluster.promotions.isEmpty)
        #expect(cluster.writersNow("alpha") == [north])
        #expect(stops(cluster, north).isEmpty)
        let refusal = try #require(cluster.site(south).watchers["alpha"]?.lastRefusal)
        guard case .witnessDisagrees(.holderAlive(site: north, _)) = refusal else {
            Issue.record("unexpected refusal \(refusal)")
            return
        }
        #expect(cluster.violations.isEmpty)
    }

    @Test func anIsolatedHomeStopsBeforeAnyVoterCouldGrantElsewhere() throws {
        let cluster = cluster()
        cluster.run(seconds: 4.5)
        cluster.isolate(north)
        // The earliest moment either other voter could grant the tenant to anyone else.
        let earliestRegrant = try [south, remote].map { id in
            let site = cluster.site(id)
            let promise = try #require(site.grantors["alpha"]!.promise(at: site.now))
            return realTime(of: promise.until, at: site, in: cluster)
        }.min()!
        cluster.run(seconds: 30)
        let stop = try #require(stops(cluster, north).first)
        let start = try #require(starts(cluster, south).first)
        #expect(stop.time <= earliestRegrant)
        #expect(stop.time < start.time)
        #expect(start.time - stop.time < 1_000_000_000)     // the drift margin plus a few messages
        #expect(cluster.promotions.map(\.promotion.epoch) == [Epoch(2)])
        #expect(cluster.violations.isEmpty)
    }

    /// Holder slow, voters fast: at `ρ = D / (2L + D)` the margin still holds; well past it the
    /// checker finds two writers (so it would notice a wrong timing rule).
    @Test(arguments: [(0.024, true), (0.1, false)])
    func clockDriftWithinTheMarginNeverOverlaps(drift: Double, safe: Bool) {
        let cluster = cluster()
        cluster.site(north).rate = 1 - drift
        cluster.site(south).rate = 1 + drift
        cluster.site(remote).rate = 1 + drift
        cluster.run(seconds: 4.5)
        cluster.isolate(north)
        cluster.run(seconds: 30)
        #expect(cluster.promotions.count == 1)
        #expect(cluster.violations.isEmpty == safe)
    }

    @Test func theOldHomeIsFencedByItsStaleEpochWhenThePartitionHeals() throws {
        let cluster = cluster()
        cluster.run(seconds: 2)
        cluster.isolate(north)
        cluster.run(seconds: 20)
        cluster.healAll()
        cluster.run(seconds: 3)
        let witness = cluster.site(remote).grantors["alpha"]!
        #expect(witness.refusals[.staleEpoch, default: 0] >= 1)
        #expect(cluster.site(north).holders["alpha"] == nil)
        let watcher = try #require(cluster.site(north).watchers["alpha"])
        #expect(watcher.activeSite == south)
        #expect(watcher.epoch == Epoch(2))
        #expect(cluster.writersNow("alpha") == [south])
        #expect(cluster.violations.isEmpty)
    }

    @Test func anOutdatedTwinDoesNotTakeOverUnlessForcedWithAReason() throws {
        let cluster = cluster()
        cluster.run(seconds: 2)
        cluster.cut(north, south)
        // Twin: preferred. North records south outdated at its own voter and the witness first.
        var sync = TwinSyncMachine(holder: north, twin: south, policy: .preferred)
        guard case .recordOutdated(let outdate) = sync.twinLost(epoch: .initial, now: cluster.site(north).now) else {
            Issue.record("no outdate requested")
            return
        }
        for id in [north, remote] {
            let site = cluster.site(id)
            #expect(site.grantors["alpha"]!.recordOutdated(outdate, now: site.now).isSuccess)
        }
        sync.outdateRecorded(now: cluster.site(north).now)
        #expect(sync.acknowledgement(at: cluster.site(north).now) == .localOnly)
        cluster.run(seconds: 1)          // north acknowledges writes south lacks, then dies
        cluster.crash(north)
        cluster.run(seconds: 60)
        #expect(cluster.promotions.isEmpty)
        #expect(cluster.site(south).watchers["alpha"]?.lastRefusal == .outdated(since: .initial))
        #expect(throws: PromotionRefusal.reasonRequired) { try cluster.forcePromotion(tenant: "alpha", at: south, reason: "") }
        try cluster.forcePromotion(tenant: "alpha", at: south, reason: "north lost its building; accept divergence")
        let promotion = try #require(cluster.promotions.last?.promotion)
        guard case .forced(let report) = promotion.cause else {
            Issue.record("not forced: \(promotion)")
            return
        }
        #expect(report.outdatedSince == .initial)
        #expect(report.otherSite == north)
        cluster.run(seconds: 1)
        #expect(cluster.writersNow("alpha") == [south])
        #expect(cluster.violations.isEmpty)
    }

    @Test func aPlannedSwitchoverAndFailbackMoveTheLeaseWithoutTwoWriters() throws {
        let cluster = cluster()
        cluster.run(seconds: 3)
        try cluster.beginHandover(tenant: "alpha", to: south)
        cluster.run(seconds: 0.2)        // in-flight writes drain, south confirms it is in sync
        try cluster.drained(tenant: "alpha")
        cluster.run(seconds: 2)
        #expect(cluster.promotions.map(\.promotion) == [
            Promotion(epoch: Epoch(2), previousEpoch: .initial, previousSite: north, cause: .switchover),
        ])
        let stop = try #require(stops(cluster, north).first)
        let start = try #require(starts(cluster, south).first)
        #expect(stop.time < start.time)
        #expect(start.time - stop.time < 250_000_000)
        // Failback the same way.
        try cluster.beginHandover(tenant: "alpha", to: north)
        cluster.run(seconds: 0.2)
        try cluster.drained(tenant: "alpha")
        cluster.run(seconds: 2)
        #expect(cluster.promotions.last?.promotion.epoch == Epoch(3))
        #expect(cluster.writersNow("alpha") == [north])
        #expect(cluster.violations.isEmpty)
    }
}

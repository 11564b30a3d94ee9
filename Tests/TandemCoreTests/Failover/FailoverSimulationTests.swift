import Testing
@testable import TandemCore

/// Seeded random runs of the three sites with two tenants (one homed at each near site):
/// message loss, delay and reordering, partitions that come and go, process pauses, crashes
/// with restarts, planned switchovers, and clock rates that wander within the stated drift
/// bound. After every 5 ms step: never two writers for one tenant, and writers' epochs never
/// go back. Settings: 1 s interval, failover after 3, L = 4 s, D = 500 ms, so the drift bound
/// is ρ ≤ D / (2L + D) ≈ 5.9 %; the runs use up to 5 %.
@Suite struct FailoverSimulationTests {
    static let seeds: [UInt64] = Array(1...12)
    static let secondsPerRun = 120.0

    struct Outcome {
        var steps = 0
        var writerSteps = 0
        var promotions = 0
        var failovers = 0
        var violations: [String] = []
    }

    /// One run; `fixedRates` pins the clock rates instead of letting them wander within `drift`.
    static func simulate(seed: UInt64, seconds: Double, drift: Double, switchoverRate: Double = 0.03,
                         maxLoss: Double = 0.25, fixedRates: [SiteID: Double]? = nil) -> Outcome {
        let north = FailoverFixture.north, south = FailoverFixture.south
        let cluster = FailoverCluster(settings: FailoverFixture.fast, tenants: ["alpha": north, "beta": south], seed: seed)
        var random = FailoverRandom(seed: seed ^ 0x5EED_FA11)
        cluster.lossRate = Double.random(in: 0...maxLoss, using: &random)
        cluster.delay = 1_000_000...(Int64.random(in: 5...150, using: &random) * 1_000_000)
        cluster.longDelayRate = 0.02
        let ids = cluster.sites.keys.sorted()
        func wander() -> Double {
            random.chance(0.5) ? (random.chance(0.5) ? 1 - drift : 1 + drift) : 1 + Double.random(in: -drift...drift, using: &random)
        }
        for id in ids { cluster.site(id).rate = fixedRates?[id] ?? wander() }
        var restartAt: [SiteID: Int64] = [:]
        var drainAt: [(tenant: String, site: SiteID, time: Int64)] = []
        let step: Int64 = 5_000_000
        let end = Int64(seconds * 1e9)
        while cluster.realTime < end {
            if cluster.steps % 200 == 0 {
                for (index, a) in ids.enumerated() {
                    for b in ids[(index + 1)...] {
                        if cluster.cuts.contains([a, b].sorted()) {
                            if random.chance(0.3) { cluster.heal(a, b) }
                        } else if random.chance(0.08) {
                            cluster.cut(a, b)
                        }
                    }
                }
                for id in ids {
                    let site = cluster.site(id)
                    if !site.up, let time = restartAt[id], time <= cluster.realTime {
                        cluster.restart(id)
                    } else if site.up, random.chance(0.01) {
                        cluster.crash(id)
                        restartAt[id] = cluster.realTime + Int64.random(in: 1_000...8_000, using: &random) * 1_000_000
                    } else if site.up, random.chance(0.02) {
                        cluster.pause(id, seconds: Double.random(in: 0.1...3, using: &random))
                    }
                    if fixedRates == nil, random.chance(0.1) { site.rate = wander() }
                }
                for tenant in ["alpha", "beta"] where random.chance(switchoverRate) {
                    guard let from = cluster.holderSite(tenant) else { continue }
                    let to = from == north ? south : north
                    if (try? cluster.beginHandover(tenant: tenant, to: to, at: from)) != nil {
                        drainAt.append((tenant, from, cluster.realTime + Int64.random(in: 0...500, using: &random) * 1_000_000))
                    }
                }
            }
            for (index, drain) in drainAt.enumerated().reversed() where drain.time <= cluster.realTime {
                drainAt.remove(at: index)
                if (try? cluster.drained(tenant: drain.tenant, at: drain.site)) == nil {
                    cluster.abortHandover(tenant: drain.tenant, at: drain.site)
                }
            }
            cluster.advance(by: step)
        }
        return Outcome(steps: cluster.steps, writerSteps: cluster.stepsWithWriter.values.reduce(0, +),
                       promotions: cluster.promotions.count,
                       failovers: cluster.promotions.filter { $0.promotion.cause == .failover }.count,
                       violations: cluster.violations)
    }

    @Test(arguments: seeds)
    func neverTwoWritersUnderFaultsWithinTheDriftBound(seed: UInt64) {
        let outcome = Self.simulate(seed: seed, seconds: Self.secondsPerRun, drift: 0.05)
        #expect(outcome.violations.isEmpty, "seed \(seed): \(outcome.violations.prefix(3))")
        #expect(outcome.steps >= 24_000)
        // Not vacuous: the tenants are written most of the time, and sites do take over.
        #expect(outcome.writerSteps >= outcome.steps / 2, "seed \(seed): writers in \(outcome.writerSteps) of \(2 * outcome.steps) tenant-steps")
        #expect(outcome.failovers >= 1 && outcome.promotions > outcome.failovers,
                "seed \(seed): \(outcome.failovers) failovers, \(outcome.promotions) promotions")
    }

    /// The checker has teeth: with north's clock 30 % slow and the others 30 % fast (far beyond
    /// the stated margin), the same faults produce two writers at once.
    @Test func driftBeyondTheMarginIsCaught() {
        let rates: [SiteID: Double] = [FailoverFixture.north: 0.7, FailoverFixture.south: 1.3, FailoverFixture.remote: 1.3]
        let overlapping = (UInt64(1)...6).filter {
            !Self.simulate(seed: $0, seconds: 120, drift: 0.3, switchoverRate: 0, fixedRates: rates).violations.isEmpty
        }
        #expect(!overlapping.isEmpty)
    }
}

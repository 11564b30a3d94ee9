@testable import TandemCore

/// Three sites wired together in memory: each runs a ``LeaseGrantorMachine`` per tenant, and
/// each near site a ``LeaseHolderMachine`` (active) or a ``FailoverMachine`` (twin) per tenant.
/// Real time advances in steps; each site reads its own drifting monotonic clock; links can
/// lose, delay and reorder messages or be cut. After every step the cluster checks that no two
/// sites may write for one tenant, and that writers' epochs never go back.
final class FailoverCluster {
    enum Payload {
        case request(LeaseRequest)
        case reply(LeaseReply)
        case heartbeat(epoch: Epoch, active: Bool)
        case witnessQuery
        case verdict(WitnessVerdict)
        case release(LeaseRelease)
        case handoverOffer(LeaseRelease)
    }

    struct Envelope {
        var deliverAt: Int64
        var order: Int
        var from: SiteID
        var to: SiteID
        var tenant: String
        var payload: Payload
    }

    final class Site {
        let id: SiteID
        var clock: Double
        var rate = 1.0
        var up = true
        var pausedUntil: Int64 = 0
        var grantors: [String: LeaseGrantorMachine] = [:]
        var holders: [String: LeaseHolderMachine] = [:]
        var watchers: [String: FailoverMachine] = [:]
        var nextHeartbeat: MonotonicInstant
        /// Tenants this site was told to write (startWriting without stopWriting since).
        var writing: Set<String> = []

        init(id: SiteID, clock: Double) {
            self.id = id
            self.clock = clock
            self.nextHeartbeat = MonotonicInstant(nanoseconds: Int64(clock))
        }

        var now: MonotonicInstant { MonotonicInstant(nanoseconds: Int64(clock)) }
    }

    /// A change in who may write, in real time.
    struct WriterChange: Equatable {
        var time: Int64
        var tenant: String
        var site: SiteID
        var epoch: Epoch
        var writing: Bool
    }

    let settings: LeaseSettings
    let near: [SiteID]
    let witness: SiteID
    let homes: [String: SiteID]
    var voters: Set<SiteID> { Set(near + [witness]) }
    private(set) var sites: [SiteID: Site] = [:]
    private(set) var realTime: Int64 = 0
    private var queue: [Envelope] = []
    private var order = 0
    private var incarnation: UInt64 = 0
    var rng: FailoverRandom
    var cuts: Set<[SiteID]> = []
    var lossRate = 0.0
    var delay: ClosedRange<Int64> = 5_000_000...5_000_000
    var longDelayRate = 0.0

    private(set) var promotions: [(time: Int64, tenant: String, site: SiteID, promotion: Promotion)] = []
    private(set) var changes: [WriterChange] = []
    private(set) var violations: [String] = []
    private(set) var stepsWithWriter: [String: Int] = [:]
    private(set) var steps = 0
    private var writers: [String: [SiteID: Epoch]] = [:]
    private var highestWriterEpoch: [String: Epoch] = [:]

    /// Tenants and their home sites; every voter starts warm (its quiet period already over).
    init(settings: LeaseSettings, tenants: [String: SiteID], seed: UInt64 = 1,
         near: [SiteID] = [FailoverFixture.north, FailoverFixture.south], witness: SiteID = FailoverFixture.remote) {
        self.settings = settings
        self.near = near
        self.witness = witness
        self.homes = tenants
        self.rng = FailoverRandom(seed: seed)
        for (index, id) in (near + [witness]).enumerated() {
            let site = Site(id: id, clock: Double(index + 1) * 1e12)
            for tenant in tenants.keys {
                site.grantors[tenant] = LeaseGrantorMachine(site: id, settings: settings,
                                                            startedAt: site.now - settings.leaseDuration)
            }
            sites[id] = site
        }
        for (tenant, home) in tenants.sorted(by: { $0.key < $1.key }) {
            for id in near where id != home {
                site(id).watchers[tenant] = FailoverMachine(site: id, activeSite: home, epoch: .initial,
                                                           settings: settings, now: site(id).now)
            }
            startHolder(tenant: tenant, at: home, epoch: .initial, forced: nil)
        }
    }

    func site(_ id: SiteID) -> Site { sites[id]! }

    // MARK: Time

    /// Advances real time by `step` nanoseconds, delivers what is due, ticks every machine and
    /// checks the invariants.
    func advance(by step: Int64) {
        realTime += step
        for site in sites.values { site.clock += Double(step) * site.rate }
        deliverDue()
        for id in sites.keys.sorted() where isRunning(id) { tick(site(id)) }
        deliverDue()
        check()
    }

    /// Advances in `step`s until `seconds` of real time have passed.
    func run(seconds: Double, step: Int64 = 1_000_000) {
        let end = realTime + Int64(seconds * 1e9)
        while realTime < end { advance(by: step) }
    }

    var seconds: Double { Double(realTime) / 1e9 }

    func isRunning(_ id: SiteID) -> Bool { site(id).up && site(id).pausedUntil <= realTime }

    // MARK: Faults and operators

    func cut(_ a: SiteID, _ b: SiteID) { cuts.insert([a, b].sorted()) }
    func heal(_ a: SiteID, _ b: SiteID) { cuts.remove([a, b].sorted()) }
    func isolate(_ id: SiteID) { for other in sites.keys where other != id { cut(id, other) } }
    func healAll() { cuts.removeAll() }
    func pause(_ id: SiteID, seconds: Double) { site(id).pausedUntil = realTime + Int64(seconds * 1e9) }

    /// The process dies: its machines are gone; voters keep their persisted records.
    func crash(_ id: SiteID) {
        let site = site(id)
        site.up = false
        site.writing.removeAll()
        site.holders.removeAll()
        site.watchers.removeAll()
    }

    /// The process starts again: quiet voters, and a twin's watch on every tenant.
    func restart(_ id: SiteID) {
        let site = site(id)
        site.up = true
        site.pausedUntil = 0
        for tenant in homes.keys {
            let old = site.grantors[tenant]!
            site.grantors[tenant] = LeaseGrantorMachine(site: id, settings: settings, startedAt: site.now,
                                                        newest: old.newest, outdated: old.outdated)
            guard near.contains(id) else { continue }
            let other = near.first { $0 != id }!
            let owner = old.newest.map(\.owner).flatMap { $0 == id ? nil : $0 } ?? other
            site.watchers[tenant] = FailoverMachine(site: id, activeSite: owner,
                                                    epoch: old.newest?.epoch ?? .initial, settings: settings,
                                                    now: site.now)
        }
    }

    /// `failover --to successor` on the site holding `tenant` (or on `id`).
    func beginHandover(tenant: String, to successor: SiteID, at id: SiteID? = nil) throws(HandoverRefusal) {
        guard let id = id ?? holderSite(tenant), let site = sites[id], site.up, var holder = site.holders[tenant] else {
            throw .notHolding(.idle)
        }
        let actions = try holder.beginHandover(to: successor, now: site.now)
        site.holders[tenant] = holder
        perform(actions, tenant: tenant, at: site)
    }

    /// The draining site reports in-flight writes done and the successor in sync.
    func drained(tenant: String, at id: SiteID? = nil) throws(HandoverRefusal) {
        guard let id = id ?? holderSite(tenant), let site = sites[id], site.up, var holder = site.holders[tenant] else {
            throw .notDraining(.idle)
        }
        let actions = try holder.drained(now: site.now)
        site.holders[tenant] = holder
        perform(actions, tenant: tenant, at: site)
    }

    /// `failover --force --reason` at `id`.
    func forcePromotion(tenant: String, at id: SiteID, reason: String) throws(PromotionRefusal) {
        let site = site(id)
        guard var watcher = site.watchers[tenant] else { throw .alreadyPromoted }
        let action = try watcher.forcePromotion(reason: reason, now: site.now)
        site.watchers[tenant] = watcher
        perform(action, tenant: tenant, at: site)
    }

    /// The site running `tenant`'s lease holder, if exactly one does.
    func holderSite(_ tenant: String) -> SiteID? {
        let ids = near.filter { site($0).up && site($0).holders[tenant] != nil }
        return ids.count == 1 ? ids[0] : nil
    }

    /// Sites that may write for `tenant` now.
    func writersNow(_ tenant: String) -> [SiteID] {
        near.filter { id in
            let site = site(id)
            return site.up && site.holders[tenant]?.mayWrite(at: site.now) == true
        }
    }

    // MARK: Plumbing for the wiring extension

    func enqueue(_ envelope: Envelope) {
        var envelope = envelope
        order += 1
        envelope.order = order
        queue.append(envelope)
    }

    /// The index of the next message to hand over now (due, and its receiver running or dead).
    func nextDue() -> Int? {
        var best: Int?
        for index in queue.indices where queue[index].deliverAt <= realTime {
            let to = queue[index].to
            guard isRunning(to) || !site(to).up else { continue }
            if let current = best,
               (queue[current].deliverAt, queue[current].order) <= (queue[index].deliverAt, queue[index].order) {
                continue
            }
            best = index
        }
        return best
    }

    func take(at index: Int) -> Envelope { queue.remove(at: index) }

    func nextIncarnation() -> UInt64 {
        incarnation += 1
        return incarnation
    }

    func flag(_ problem: String) { violations.append("at \(seconds) s, \(problem)") }

    func recordPromotion(tenant: String, site id: SiteID, _ promotion: Promotion) {
        promotions.append((realTime, tenant, id, promotion))
    }

    /// At most one writer per tenant; writers' epochs never go back.
    func check() {
        steps += 1
        for tenant in homes.keys.sorted() {
            var current: [SiteID: Epoch] = [:]
            for id in writersNow(tenant) {
                current[id] = site(id).holders[tenant]!.epoch
                if !site(id).writing.contains(tenant) { flag("\(id) may write \(tenant) without being told to start") }
            }
            if current.count > 1 {
                violations.append("at \(seconds) s, \(current.keys.sorted()) may all write \(tenant)")
            }
            if !current.isEmpty { stepsWithWriter[tenant, default: 0] += 1 }
            for (id, epoch) in current {
                if let highest = highestWriterEpoch[tenant], epoch < highest {
                    violations.append("at \(seconds) s, \(id) writes \(tenant) at \(epoch) after \(highest)")
                }
                highestWriterEpoch[tenant] = max(highestWriterEpoch[tenant] ?? epoch, epoch)
            }
            let before = writers[tenant] ?? [:]
            for (id, epoch) in current.sorted(by: { $0.key < $1.key }) where before[id] != epoch {
                changes.append(WriterChange(time: realTime, tenant: tenant, site: id, epoch: epoch, writing: true))
            }
            for (id, epoch) in before.sorted(by: { $0.key < $1.key }) where current[id] != epoch {
                changes.append(WriterChange(time: realTime, tenant: tenant, site: id, epoch: epoch, writing: false))
            }
            writers[tenant] = current
        }
    }
}

extension FailoverCluster {
    /// The operator calls a switchover off.
    func abortHandover(tenant: String, at id: SiteID) {
        let site = site(id)
        guard site.up, var holder = site.holders[tenant] else { return }
        let actions = holder.abortHandover(now: site.now)
        site.holders[tenant] = holder
        perform(actions, tenant: tenant, at: site)
    }
}

import Foundation
import Logging
import TandemCodecs
import TandemCore
import TandemStore

/// Why shipping a snapshot cannot go on.
public enum ShippingError: Error, CustomStringConvertible {
    case packMissingEverywhere(tenant: String, snapshot: String, pack: String)

    public var description: String {
        switch self {
        case .packMissingEverywhere(let tenant, let snapshot, let pack):
            "snapshot \(snapshot.prefix(12)) of tenant \(tenant) needs pack \(pack.prefix(12)), which is neither here nor at the remote site; run `tandemctl repair --tenant \(tenant)`"
        }
    }
}

/// Ships each tenant's committed snapshots to the remote site, in commit order: asks which
/// packs the remote lacks, sends only those (through the tenant's and the site's token
/// buckets), then the tenant's settings and key slots, then the manifest, then `complete`.
/// The queue is saved after every snapshot, so an interruption re-sends at most the pack in
/// flight (the remote keeps what it verified). Needs no tenant key: packs, manifests and the
/// catalog's times are read as stored.
public actor Shipper {
    let backend: any Backend
    let store: LocalBackend
    let remote: Remote
    let logger: Logger
    let indexPath: @Sendable (String) -> String
    private var queues: [String: ShippingQueue] = [:]
    /// Per tenant, packs the remote is known to hold, and packs counted in `pendingBytes`.
    private var remoteHolds: [String: Set<String>] = [:]
    private var counted: [String: Set<String>] = [:]
    /// Packs sent before the oldest is acknowledged.
    public static let packWindow = 2
    private var roundRunning = false
    private var roundWaiters: [CheckedContinuation<Void, Never>] = []
    /// Snapshots completed at the remote in the current ``shipAll(tenants:now:)`` round.
    private var roundShipped = 0
    private var pacing: ShippingPace
    private let started = ContinuousClock.now

    /// `stateDirectory/shipping` holds the queues; `indexPath` gives a tenant's catalog.
    public init(backend: any Backend, stateDirectory: String, remote: Remote, logger: Logger,
                siteBandwidth: BandwidthSchedule? = nil, indexPath: @escaping @Sendable (String) -> String) {
        self.backend = backend
        store = LocalBackend(root: stateDirectory + "/shipping")
        self.remote = remote
        self.logger = logger
        self.indexPath = indexPath
        pacing = ShippingPace(siteSchedule: siteBandwidth)
    }

    public func setBandwidth(tenant: String, bytesPerSecond: Int?) {
        pacing.setBandwidth(tenant: tenant, bytesPerSecond: bytesPerSecond)
    }

    public func queue(_ tenant: String) async -> ShippingQueue {
        if let queue = queues[tenant] { return queue }
        let loaded = await ShippingQueue.load(store, tenant: tenant)
        queues[tenant] = loaded
        return loaded
    }

    /// Snapshot IDs retention must keep at this site because the remote does not hold them yet.
    public func unshipped(_ tenant: String) async -> Set<String> { Set(await queue(tenant).pending.map(\.snapshot)) }

    /// A snapshot was committed: queue it (durably) for shipping.
    public func committed(tenant: String, snapshot: String, time: Date, now: Date, source: String? = nil,
                          packs: Set<String>? = nil) async throws {
        var queue = await queue(tenant)
        queue.add(snapshot: snapshot, time: time, committedAt: now, source: source, packs: packs?.sorted())
        // Until the next round asks the remote, count the packs it is not known to hold.
        for name in packs ?? [] where !(remoteHolds[tenant]?.contains(name) ?? false) && !(counted[tenant]?.contains(name) ?? false) {
            guard let size = try? await backend.size(TenantLayout(tenant).pack(name)) else { continue }
            queue.pendingBytes += Int64(size)
            counted[tenant, default: []].insert(name)
        }
        try await save(queue, tenant)
    }

    /// Adds every snapshot in the tenant's catalog that the queue and the remote do not know
    /// (after a crash between commit and enqueue, or a fresh start); run before shipping.
    private func reconcile(_ tenant: String, completed: [String: Date], queue: inout ShippingQueue) throws {
        let path = indexPath(tenant)
        guard FileManager.default.fileExists(atPath: path) else { return }
        for record in try IndexDatabase(path: path).snapshots() where completed[record.id] == nil {
            queue.add(snapshot: record.id, time: record.time, committedAt: record.time, source: record.source)
        }
        queue.pending.removeAll { completed[$0.snapshot] != nil }
        queue.completeCount = completed.count
        queue.newestComplete = completed.values.max()
    }

    /// Ships everything pending for `tenants`; returns the snapshots completed at the remote
    /// in this round (also when the round ends early).
    /// Errors are recorded per tenant (``ShippingQueue/lastError``) and logged, not thrown.
    @discardableResult
    public func shipAll(tenants: [String], now: @Sendable () -> Date) async -> Int {
        // One round at a time: the resync loop and a backup's acknowledgement both ship, and
        // interleaved rounds would work from stale copies of the queue.
        while roundRunning { await withCheckedContinuation { roundWaiters.append($0) } }
        roundRunning = true
        defer {
            roundRunning = false
            if !roundWaiters.isEmpty { roundWaiters.removeFirst().resume() }
        }
        roundShipped = 0
        do {
            try await remote.link.with { connection in
                for tenant in tenants {
                    try await ship(tenant, over: connection, now: now)
                }
            }
        } catch {
            logger.warning("shipping to \(remote.label) failed; will retry", metadata: ["peer": "\(remote.site)", "error": "\(error)"])
            for tenant in tenants {
                var queue = await queue(tenant)
                queue.lastError = "\(error)"
                queues[tenant] = queue
            }
        }
        return roundShipped
    }

    private func ship(_ tenant: String, over connection: any LinkChannel, now: @Sendable () -> Date) async throws {
        var queue = await queue(tenant)
        let epoch = await remote.epoch(tenant)
        let completed = try await connection.completed(tenant: tenant)
        try reconcile(tenant, completed: completed.times, queue: &queue)
        guard !queue.pending.isEmpty else {
            queue.pendingBytes = 0
            try await save(queue, tenant)
            try await sendDeletionsOrDefer(tenant, over: connection, epoch: epoch)
            return
        }
        // One question per round: which of the packs the pending snapshots need are missing there.
        let local = Dictionary(try await localPacks(tenant).map { ($0.name, $0.path) }, uniquingKeysWith: { first, _ in first })
        var asked = Set<String>()
        for entry in queue.pending { asked.formUnion(entry.packs ?? Array(local.keys)) }
        // A hostile or confused remote may name packs it was not asked about (another
        // tenant's, say): `missing` refuses such an answer, so nothing outside the question is sent.
        let missing = try await connection.missing(asked.sorted(), tenant: tenant)
        var lacking = Set(missing)
        remoteHolds[tenant] = asked.subtracting(lacking)
        counted[tenant] = lacking
        var sizes: [String: Int] = [:]
        for name in lacking { if let path = local[name] { sizes[name] = try await backend.size(path) } }
        queue.pendingBytes = Int64(sizes.values.reduce(0, +))
        while let entry = queue.pending.first {
            guard try await backend.exists(TenantLayout(tenant).snapshot(entry.snapshot)) else {
                logger.error("a queued snapshot is gone locally before it reached the remote", metadata: ["tenant": "\(tenant)", "snapshot": "\(entry.snapshot.prefix(12))"])
                queue.pending.removeFirst()
                continue
            }
            let needed = Set(entry.packs ?? Array(local.keys))
            let toSend = needed.intersection(lacking).sorted()
            if let gone = toSend.first(where: { local[$0] == nil }) {
                throw ShippingError.packMissingEverywhere(tenant: tenant, snapshot: entry.snapshot, pack: gone)
            }
            try await sendPacks(toSend, tenant: tenant, local: local, epoch: epoch, over: connection) { name in
                lacking.remove(name)
                queue.pendingBytes -= Int64(sizes[name] ?? 0)
            }
            var objects = ["tenant.json"]
            objects += try await backend.list(TenantLayout(tenant).keys).compactMap { $0.split(separator: "/").last.map { "keys/\($0)" } }
            objects.append("snapshots/\(entry.snapshot)")
            try await complete(entry, packs: needed.sorted(), sending: objects, tenant: tenant, epoch: epoch, over: connection)
            queue.pending.removeFirst()
            queue.completeCount += 1
            queue.newestComplete = max(queue.newestComplete ?? entry.time, entry.time)
            queue.lastError = nil
            try await save(queue, tenant)
            roundShipped += 1
            logger.notice("snapshot complete at \(remote.label)", metadata: [
                "tenant": "\(tenant)", "snapshot": "\(entry.snapshot.prefix(12))", "packs_sent": "\(toSend.count)",
                "remote": "\(remote.site)"])
        }
        queue.pendingBytes = 0
        try await save(queue, tenant)
        try await sendDeletionsOrDefer(tenant, over: connection, epoch: epoch)
    }

    /// Sends `objects` (tenant-relative paths: settings, key slots, the manifest), then
    /// `complete` for `entry` with its `packs`; each tagged with `epoch`.
    private func complete(_ entry: ShippingQueue.Entry, packs: [String], sending objects: [String], tenant: String, epoch: UInt64?,
                          over connection: any LinkChannel) async throws {
        for object in objects {
            let request = LinkRequest(.putObject(path: object), tenant: tenant, epoch: epoch)
            try await connection.perform(request, body: try await backend.read(TenantLayout(tenant).object(object)))
        }
        let complete = LinkRequest(.complete(SnapshotCompletion(snapshot: entry.snapshot, time: entry.time, packs: packs, source: entry.source)),
                                   tenant: tenant, epoch: epoch)
        try await connection.perform(complete)
    }

    /// Sends packs with a window in flight: the peer verifies and stores one while the next
    /// crosses the link, so a cut loses at most the pack not yet stored. `stored` hears each
    /// pack the peer acknowledged.
    private func sendPacks(_ names: [String], tenant: String, local: [String: String], epoch: UInt64?, over connection: any LinkChannel,
                           stored: (String) -> Void) async throws {
        var inFlight: [(id: UInt64, name: String)] = []
        var next = names.startIndex
        while next < names.endIndex || !inFlight.isEmpty {
            if next < names.endIndex && inFlight.count < Self.packWindow {
                let name = names[next]
                next += 1
                let bytes = try await backend.read(local[name]!)
                await pace(tenant, bytes.count)
                let request = LinkRequest(.putPack(name: name), tenant: tenant, epoch: epoch)
                inFlight.append((try await connection.submit(request, body: bytes), name))
                continue
            }
            let (id, name) = inFlight.removeFirst()
            let (sent, _) = try await connection.response(to: id)
            if let refusal = sent.refusal { throw LinkError.remote("put_pack: \(refusal)") }
            remoteHolds[tenant, default: []].insert(name)
            counted[tenant]?.remove(name)
            stored(name)
        }
    }

    /// Retention ran at this site: pending snapshots take their packs as they are now, and
    /// forgotten ones leave the queue. For a peer that mirrors deletions (the twin) the
    /// deletions are queued durably and sent after every pending snapshot: first each kept
    /// snapshot whose packs changed (`restated`, with any pack the peer lacks), then
    /// `drop_snapshots`, then `drop_packs`, so the peer never loses data a snapshot it holds needs.
    /// `packsNow` gives kept snapshots' packs when a repack moved data (else empty).
    public func retentionApplied(tenant: String, forgotten: [String], retired: [String], packsNow: [ShippingQueue.Entry]) async throws {
        var queue = await queue(tenant)
        let now = Dictionary(packsNow.map { ($0.snapshot, $0) }, uniquingKeysWith: { first, _ in first })
        let gone = Set(forgotten)
        queue.pending.removeAll { gone.contains($0.snapshot) }
        for index in queue.pending.indices {
            if let packs = now[queue.pending[index].snapshot]?.packs { queue.pending[index].packs = packs }
        }
        if remote.mirrorsDeletions {
            let pending = Set(queue.pending.map(\.snapshot))
            var restated = Dictionary(queue.restated.map { ($0.snapshot, $0) }, uniquingKeysWith: { first, _ in first })
            for entry in packsNow where !pending.contains(entry.snapshot) { restated[entry.snapshot] = entry }
            for id in gone { restated[id] = nil }
            queue.restated = restated.values.sorted { $0.time < $1.time }
            queue.forgotten = Array(Set(queue.forgotten).union(gone)).sorted()
            queue.retired = Array(Set(queue.retired).union(retired)).sorted()
        }
        try await save(queue, tenant)
    }

    /// Deletions are housekeeping: one the peer refuses (a restore, drill, export or mount
    /// reads the tenant there) stays queued for the next round and does not hold up the
    /// tenants after this one. A broken link still ends the round.
    private func sendDeletionsOrDefer(_ tenant: String, over connection: any LinkChannel, epoch: UInt64?) async throws {
        do {
            try await sendDeletions(tenant, over: connection, epoch: epoch)
        } catch LinkError.remote(let reason) {
            logger.notice("deletions at \(remote.label) deferred", metadata: ["tenant": "\(tenant)", "peer": "\(remote.site)", "why": "\(reason)"])
        }
    }

    /// Carries queued deletions to a peer that mirrors them (see ``retentionApplied(tenant:forgotten:retired:packsNow:)``).
    private func sendDeletions(_ tenant: String, over connection: any LinkChannel, epoch: UInt64?) async throws {
        var queue = await queue(tenant)
        guard remote.mirrorsDeletions, queue.pending.isEmpty, queue.hasDeletions else { return }
        if !queue.restated.isEmpty {
            let local = Dictionary(try await localPacks(tenant).map { ($0.name, $0.path) }, uniquingKeysWith: { first, _ in first })
            let asked = Set(queue.restated.flatMap { $0.packs ?? [] })
            let missing = try await connection.missing(asked.sorted(), tenant: tenant)
            if let gone = missing.first(where: { local[$0] == nil }) {
                throw ShippingError.packMissingEverywhere(tenant: tenant, snapshot: queue.restated[0].snapshot, pack: gone)
            }
            try await sendPacks(missing.sorted(), tenant: tenant, local: local, epoch: epoch, over: connection) { _ in }
            while let entry = queue.restated.first {
                if try await backend.exists(TenantLayout(tenant).snapshot(entry.snapshot)) {
                    try await complete(entry, packs: entry.packs ?? [], sending: ["snapshots/\(entry.snapshot)"], tenant: tenant,
                                       epoch: epoch, over: connection)
                }
                queue.restated.removeFirst()
            }
            try await save(queue, tenant)
        }
        if !queue.forgotten.isEmpty {
            let drop = LinkRequest(.dropSnapshots(queue.forgotten), tenant: tenant, epoch: epoch)
            try await connection.perform(drop)
            queue.forgotten = []
            try await save(queue, tenant)
        }
        if !queue.retired.isEmpty {
            let drop = LinkRequest(.dropPacks(queue.retired), tenant: tenant, epoch: epoch)
            let kept = try await connection.packs(drop)
            if !kept.isEmpty {
                logger.warning("\(remote.label) kept packs this site pruned: a snapshot held there still needs them", metadata: [
                    "tenant": "\(tenant)", "kept": "\(kept.count)", "peer": "\(remote.site)"])
            }
            for name in queue.retired { remoteHolds[tenant]?.remove(name) }
            queue.retired = []
            try await save(queue, tenant)
        }
        logger.notice("retention carried to \(remote.label)", metadata: ["tenant": "\(tenant)", "peer": "\(remote.site)"])
    }

    private func save(_ queue: ShippingQueue, _ tenant: String) async throws {
        try await queue.save(store, tenant: tenant)
        queues[tenant] = queue
    }

    /// Ships one tenant's queue now and says whether `snapshot` is complete at the peer
    /// afterwards, with the round's error when it is not (the twin mirror's acknowledgement).
    public func deliver(tenant: String, snapshot: String, now: @Sendable () -> Date) async -> (delivered: Bool, error: String?) {
        _ = await shipAll(tenants: [tenant], now: now)
        let queue = await queue(tenant)
        if queue.pending.contains(where: { $0.snapshot == snapshot }) {
            return (false, queue.lastError ?? "the snapshot is still queued")
        }
        return (true, nil)
    }

    /// One-off exchanges with the same peer (a request, a repair's fetch, a drill's copy).
    public nonisolated var client: PeerClient { PeerClient(peer: remote, backend: backend, logger: logger) }

    private func localPacks(_ tenant: String) async throws -> [(name: String, path: String)] {
        try await backend.list(TenantLayout(tenant).packs).compactMap { path in
            guard let name = path.split(separator: "/").last.map(String.init), LinkNames.isHash(name) else { return nil }
            return (name, path)
        }
    }

    /// Waits as the tenant's and the site's buckets say.
    private func pace(_ tenant: String, _ bytes: Int) async {
        let wait = pacing.delay(tenant: tenant, bytes: bytes, elapsed: (ContinuousClock.now - started) / .seconds(1), time: Date())
        if wait > 0 { try? await Task.sleep(for: .seconds(wait)) }
    }
}

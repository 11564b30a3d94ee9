import Foundation
import Testing
import TandemCore
import TandemSiteLab
import TandemSites
import TandemStore
import TandemTestSupport

/// The twin follows its active site's retention over a real loopback TLS link: forgotten
/// snapshots and pruned packs go, packs written by a repack arrive before anything that
/// needed the old ones is deleted, and every kept snapshot stays whole at the twin.
@Suite(.serialized) struct TwinRetentionLinkTests {
    typealias NearSite = ShippingLinkTests.NearSite
    let tenant = ShippingLinkTests.tenantName

    func names(_ backend: any Backend, _ folder: String) async throws -> Set<String> {
        Set(try await backend.list("tenants/\(tenant)/\(folder)").compactMap { $0.split(separator: "/").last.map(String.init) })
    }

    @Test func theTwinFollowsForgetAndPruneAndKeepsEveryKeptSnapshotWhole() async throws {
        let twinScratch = Scratch()
        let twinBackend = LocalBackend(root: twinScratch.file("repo"))
        _ = try await Repository.initialize(backend: twinBackend, now: Date())
        let twin = try await LoopbackRemote.start(backend: twinBackend, certificates: ShippingLinkTests.certificates, mirror: true)
        defer { Task { await twin.stop() } }
        let near = try await NearSite()
        let root = near.root
        let mirror = try await twin.shipper(backend: near.backend, stateDirectory: near.scratch.file("twin-state"),
                                            indexPath: { "\(root)/tenants/\($0)/index.sqlite" }, mirrorsDeletions: true)

        // Five versions of an image, each rewriting a different fifth, in small packs so that
        // forgetting the old ones leaves packs part dead (the repack case).
        let image = near.scratch.file("image")
        var bytes = sampleBytes(1_500_000, seed: 77)
        var versions: [String: Data] = [:]
        let start = Date(timeIntervalSince1970: 1_796_000_000)
        for step in 0..<5 {
            let offset = step * 300_000
            bytes.replaceSubrange(offset ..< offset + 150_000, with: sampleBytes(150_000, seed: UInt64(500 + step)))
            try bytes.write(to: URL(fileURLWithPath: image))
            let commit = try await near.backup(.stream(path: image), at: start.addingTimeInterval(Double(step) * 3600), packSize: 256 << 10)
            versions[commit.snapshot] = bytes
            try await near.enqueue([commit], on: mirror)
            #expect(await mirror.shipAll(tenants: [tenant], now: { Date() }) == 1)
        }
        #expect(try await names(twinBackend, "packs") == names(near.backend, "packs"))

        let forget = try await near.tenant.forget(policy: RetentionPolicy(keepLast: 2), dryRun: false, now: start.addingTimeInterval(86400))
        #expect(forget.removed.count == 3)
        var options = PruneOptions()
        options.packSize = 256 << 10
        let pruned = try await near.tenant.prune(options: options)
        // Chunk boundaries follow the tenant's random key, so whether some pack is wholly dead
        // varies; part-dead packs to rewrite are always there.
        #expect(pruned.packsRepacked > 0 && pruned.retiredPacks.count == pruned.packsRepacked + pruned.packsDeleted, "\(pruned)")
        let records = Dictionary(try near.tenant.index.snapshots().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let packsNow = try await near.tenant.packsReferencedBySnapshot().map { id, packs in
            ShippingQueue.Entry(snapshot: id, time: records[id]!.time, committedAt: records[id]!.time, source: records[id]!.source,
                                packs: packs.sorted())
        }
        try await mirror.retentionApplied(tenant: tenant, forgotten: forget.removed, retired: pruned.retiredPacks, packsNow: packsNow)
        #expect(await mirror.queue(tenant).hasDeletions)

        _ = await mirror.shipAll(tenants: [tenant], now: { Date() })
        let queue = await mirror.queue(tenant)
        #expect(!queue.hasDeletions && queue.lastError == nil, "\(queue)")
        // The twin holds exactly what the active site holds.
        #expect(try await names(twinBackend, "packs") == names(near.backend, "packs"))
        #expect(try await names(twinBackend, "snapshots") == names(near.backend, "snapshots"))
        #expect(try await names(twinBackend, "complete") == Set(records.keys))

        // The active site is gone: the twin's copy restores every kept snapshot.
        let repository = try await Repository.open(backend: twinBackend)
        let atTwin = try await TenantRepository.open(in: repository, name: tenant, secret: ShippingLinkTests.secret,
                                                     indexPath: twinScratch.file("index.sqlite"))
        let kept = try await atTwin.snapshots()
        #expect(kept.count == 2)
        for snapshot in kept {
            let target = twinScratch.file("restore-\(snapshot.id.prefix(12))")
            _ = try await atTwin.restore(snapshot.id, to: .path(target), options: RestoreOptions())
            expectSameBytes(FileManager.default.contents(atPath: target), versions[snapshot.id])
        }
        let check = try await atTwin.check(readData: true)
        #expect(check.problems.isEmpty, "\(check.problems)")
    }

    /// Deletions never reach the remote site, and a twin never deletes a pack that a snapshot
    /// it holds still needs, whatever the sender asks.
    @Test func deletionsAreRefusedAtTheRemoteAndBoundedAtTheTwin() async throws {
        let near = try await NearSite()
        let image = near.scratch.file("image")
        try sampleBytes(300_000, seed: 9).write(to: URL(fileURLWithPath: image))
        let commit = try await near.backup(.stream(path: image), at: Date())
        for mirror in [false, true] {
            let backend = InMemoryBackend()
            let peer = try await LoopbackRemote.start(backend: backend, certificates: ShippingLinkTests.certificates, mirror: mirror)
            let shipper = try await near.shipper(to: peer, state: "state-\(mirror)")
            try await near.enqueue([commit], on: shipper)
            #expect(await shipper.shipAll(tenants: [tenant], now: { Date() }) == 1)
            let held = try await backend.list("tenants/\(tenant)")
            let dropPacks = LinkRequest(.dropPacks(commit.packs.sorted()), tenant: tenant, epoch: 1)
            let dropSnapshot = LinkRequest(.dropSnapshots([commit.snapshot]), tenant: tenant, epoch: 1)
            let packsAnswer = try await shipper.client.send(dropPacks)
            if mirror {
                // The snapshot is still held, so its packs are kept and named in the answer.
                #expect(packsAnswer.ok && Set(packsAnswer.packNames ?? []) == commit.packs)
                #expect(try await backend.list("tenants/\(tenant)") == held)
                #expect(try await shipper.client.send(dropSnapshot).ok)
                #expect(try await names(backend, "snapshots").isEmpty)
                #expect(try await names(backend, "complete").isEmpty)
                #expect(try await shipper.client.send(dropPacks).packNames == [])
                #expect(try await names(backend, "packs").isEmpty)
            } else {
                #expect(!packsAnswer.ok && packsAnswer.refusal?.contains("never deletes") == true, "\(packsAnswer)")
                #expect(try await !shipper.client.send(dropSnapshot).ok)
                #expect(try await backend.list("tenants/\(tenant)") == held)
            }
            await peer.stop()
        }
    }
}

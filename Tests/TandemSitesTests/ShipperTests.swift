import Foundation
import Logging
import Testing
import TandemCodecs
import TandemCore
import TandemSiteLab
import TandemStore
import TandemTestSupport
@testable import TandemSites

/// The shipper and the peer client over a link inside the process: no sockets, no TLS, but
/// every request and answer through its frame, and a real ``RemoteReceiver`` as the peer.
@Suite struct ShipperTests {
    static let tenant = "alpha"
    /// The shipper logs each failed round as a warning: these tests cut the link on purpose.
    static let silent = Logger(label: "tandem.test.ship", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A near site's repository with one tenant, in a temporary folder.
    struct NearSite {
        let root = NSTemporaryDirectory() + "tandem-shipper-" + UUID().uuidString.prefix(8).lowercased()
        let tenant: TenantRepository

        init() async throws {
            let repository = try await Repository.initialize(backend: LocalBackend(root: root + "/repo"), now: Date())
            tenant = try await TenantRepository.create(in: repository, name: ShipperTests.tenant, suite: .aes256gcm, chunker: .defaultCDC,
                                                       compression: .zstd(level: 3), secret: .passphrase(Array("pass".utf8)), now: Date())
        }

        /// Backs up `bytes` as a stream snapshot taken at `time`; returns what the daemon tells the shipper.
        func backup(_ bytes: [UInt8], at time: Date) async throws -> (snapshot: String, packs: Set<String>) {
            let file = root + "/source-\(UUID().uuidString.prefix(8))"
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            var options = BackupOptions()
            options.packSize = 256 << 10
            let result = try await tenant.backup(.stream(path: file), options: options, now: time)
            return (result.snapshotID, try await tenant.packsReferenced(by: result.snapshotID))
        }

        func shipper(over link: any LinkDialer) -> Shipper {
            let root = root
            return Shipper(backend: LocalBackend(root: root + "/repo"), stateDirectory: root + "/state",
                           remote: .init(site: "remote", link: link), logger: ShipperTests.silent,
                           indexPath: { "\(root)/repo/\(TenantLayout($0).index)" })
        }
    }

    func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    func remote() -> (RemoteReceiver, InMemoryBackend, InMemoryLink) {
        let backend = InMemoryBackend()
        let receiver = RemoteReceiver(backend: backend)
        let link = InMemoryLink { request, body in await receiver.respond(peer: "home-a", request: request, body: body) }
        return (receiver, backend, link)
    }

    /// Two snapshots go over in order, each complete at the peer with exactly its packs; a
    /// second round asks once and sends nothing.
    @Test func snapshotsArriveWholeAndNothingIsSentTwice() async throws {
        let near = try await NearSite()
        defer { try? FileManager.default.removeItem(atPath: near.root) }
        let (receiver, backend, link) = remote()
        let shipper = near.shipper(over: link)
        let first = try await near.backup(bytes(600_000, seed: 1), at: Date(timeIntervalSince1970: 1_800_000_000))
        let second = try await near.backup(bytes(600_000, seed: 2), at: Date(timeIntervalSince1970: 1_800_003_600))
        for (commit, time) in [(first, 1_800_000_000.0), (second, 1_800_003_600.0)] {
            try await shipper.committed(tenant: Self.tenant, snapshot: commit.snapshot, time: Date(timeIntervalSince1970: time),
                                        now: Date(), packs: commit.packs)
        }
        #expect(await shipper.shipAll(tenants: [Self.tenant], now: { Date() }) == 2)
        let completed = await receiver.respond(peer: "home-a", request: LinkRequest(.completed, tenant: Self.tenant), body: []).0
        #expect(Set(completed.completedTimes?.keys.map { $0 } ?? []) == [first.snapshot, second.snapshot])
        let held = Set(try await backend.list(TenantLayout(Self.tenant).packs).map(TenantLayout.name(of:)))
        #expect(held == first.packs.union(second.packs))
        #expect(link.asked[.putPack] == held.count, "each pack sent once: \(link.asked)")
        // The order on the wire: the first snapshot is complete before the second's packs go.
        let order = link.calls.compactMap { call -> String? in
            switch call {
            case .putPack(let name): second.packs.subtracting(first.packs).contains(name) ? "second's pack" : nil
            case .complete(let completion): completion.snapshot == first.snapshot ? "first complete" : "second complete"
            default: nil
            }
        }
        #expect(order.first(where: { $0 != "second's pack" }) == "first complete" && order.last == "second complete", "\(order)")
        // Nothing pending: one question, nothing sent.
        let before = link.asked
        #expect(await shipper.shipAll(tenants: [Self.tenant], now: { Date() }) == 0)
        #expect(link.asked[.putPack] == before[.putPack] && link.asked[.complete] == before[.complete])
        #expect(await shipper.queue(Self.tenant).pending.isEmpty)
    }

    /// A link cut at every point of a round: what the peer calls complete is whole there, the
    /// queue keeps the rest with the error, and the next round on a good link finishes it.
    @Test func aCutAnywhereLosesNothing() async throws {
        let near = try await NearSite()
        defer { try? FileManager.default.removeItem(atPath: near.root) }
        let commits = [try await near.backup(bytes(500_000, seed: 3), at: Date(timeIntervalSince1970: 1_800_000_000)),
                       try await near.backup(bytes(500_000, seed: 4), at: Date(timeIntervalSince1970: 1_800_000_600))]
        // How many requests a clean round takes.
        let (_, _, probe) = remote()
        let clean = near.shipper(over: probe)
        for (index, commit) in commits.enumerated() {
            try await clean.committed(tenant: Self.tenant, snapshot: commit.snapshot,
                                      time: Date(timeIntervalSince1970: 1_800_000_000 + Double(index) * 600), now: Date(), packs: commit.packs)
        }
        #expect(await clean.shipAll(tenants: [Self.tenant], now: { Date() }) == 2)
        let requests = probe.calls.count
        #expect(requests > 6)
        for cut in 0..<requests {
            let (receiver, backend, link) = remote()
            try? FileManager.default.removeItem(atPath: near.root + "/state")
            let shipper = near.shipper(over: link)
            for (index, commit) in commits.enumerated() {
                try await shipper.committed(tenant: Self.tenant, snapshot: commit.snapshot,
                                            time: Date(timeIntervalSince1970: 1_800_000_000 + Double(index) * 600), now: Date(),
                                            packs: commit.packs)
            }
            link.cut(afterRequests: cut)
            let shipped = await shipper.shipAll(tenants: [Self.tenant], now: { Date() })
            #expect(shipped < 2, "cut after \(cut) of \(requests) requests did not interrupt the round")
            let queue = await shipper.queue(Self.tenant)
            #expect(queue.pending.count == 2 - shipped && queue.lastError?.contains("cut") == true, "cut \(cut): \(queue)")
            let held = Set(try await backend.list(TenantLayout(Self.tenant).packs).map(TenantLayout.name(of:)))
            let completed = await receiver.respond(peer: "home-a", request: LinkRequest(.completed, tenant: Self.tenant), body: []).0
            for id in completed.completedTimes?.keys.map({ $0 }) ?? [] {
                let packs = try #require(commits.first { $0.snapshot == id }?.packs)
                #expect(packs.isSubset(of: held), "cut \(cut): \(id.prefix(12)) complete without its packs")
            }
            link.cut(afterRequests: nil)
            #expect(await shipper.shipAll(tenants: [Self.tenant], now: { Date() }) == 2 - shipped, "cut \(cut)")
            #expect(await shipper.queue(Self.tenant).pending.isEmpty)
        }
    }

    /// The witness client: an outdated record reaches the peer as the typed call it was, and
    /// the peer's refusal comes back as its answer.
    @Test func theWitnessHearsTheOutdateRecordAsSent() async throws {
        let record = OutdateRequest(holder: SiteID("home-a"), epoch: Epoch(7), twin: SiteID("home-b"))
        let link = InMemoryLink { request, _ in
            guard case .outdate(let heard) = request.call, heard == record else {
                return (LinkResponse.refused(id: request.id, "unexpected \(request.call)"), [])
            }
            return (LinkResponse.refused(id: request.id, "epoch 7 is not the newest"), [])
        }
        let client = PeerClient(peer: .init(site: "remote", link: link), backend: InMemoryBackend(),
                                logger: Self.silent)
        let answer = try await client.send(LinkRequest(.outdate(record), tenant: Self.tenant))
        #expect(!answer.ok && answer.refusal == "epoch 7 is not the newest")
        #expect(link.asked == [.outdate: 1] && link.connections == 1)
    }

    /// Repair: a pack the peer answers with other bytes is named unavailable and never stored.
    @Test func aRepairStoresOnlyPacksThatHashToTheirNames() async throws {
        let good = bytes(1000, seed: 5), bad = bytes(1000, seed: 6)
        let goodName = Hex.encode(Hasher256.hash(.sha256, good)), badName = Hex.encode(Hasher256.hash(.sha256, bad))
        let link = InMemoryLink { request, _ in
            guard case .getPack(let name) = request.call else { return (LinkResponse.refused(id: request.id, "no"), []) }
            return (LinkResponse(id: request.id, .done), name == goodName ? good : Array(bad.reversed()))
        }
        let local = InMemoryBackend()
        let client = PeerClient(peer: .init(site: "remote", link: link), backend: local, logger: Self.silent)
        let result = try await client.fetchPacks(tenant: Self.tenant, names: [goodName, badName])
        #expect(result.fetched == [goodName] && result.unavailable == [badName])
        #expect(try await local.list(TenantLayout(Self.tenant).packs) == [TenantLayout(Self.tenant).pack(goodName)])
    }
}

extension ShipperTests {
    /// A confused or hostile peer: an answer of the wrong kind, or a `lack` answer naming a
    /// pack it was not asked about, fails the round as a protocol violation and nothing is sent.
    @Test func aPeerAnsweringOutOfTurnGetsNothing() async throws {
        let near = try await NearSite()
        _ = try await near.backup(bytes(300_000, seed: 11), at: Date())
        let foreign = String(repeating: "f", count: 64)
        let tampers: [(String, @Sendable (LinkRequest, LinkResponse) -> LinkResponse)] = [
            ("completed answered with packs", { (request: LinkRequest, response: LinkResponse) -> LinkResponse in
                request.operation == .completed ? LinkResponse(id: response.id, .packs([])) : response
            }),
            ("lack names another pack", { (request: LinkRequest, response: LinkResponse) -> LinkResponse in
                guard case .missing(let names) = response.answer else { return response }
                return LinkResponse(id: response.id, .missing(names + [foreign]))
            }),
            ("lack answered done", { (request: LinkRequest, response: LinkResponse) -> LinkResponse in
                request.operation == .lack ? LinkResponse(id: response.id, .done) : response
            }),
        ]
        for (name, tamper) in tampers {
            let receiver = RemoteReceiver(backend: InMemoryBackend())
            let link = InMemoryLink { request, body in
                let (response, bytes) = await receiver.respond(peer: "home-a", request: request, body: body)
                return (tamper(request, response), bytes)
            }
            let shipper = near.shipper(over: link)
            #expect(await shipper.shipAll(tenants: [Self.tenant], now: { Date() }) == 0, "\(name)")
            let error = await shipper.queue(Self.tenant).lastError ?? ""
            #expect(error.contains("protocol violation"), "\(name): \(error)")
            #expect(link.asked[.putPack] == nil && link.asked[.complete] == nil, "\(name): \(link.asked)")
        }
    }
}

extension ShipperTests {
    /// A twin that refuses a deletion while a reader holds the tenant there: the deletion stays
    /// queued, the round goes on to the next tenant, and the deletion applies once the reader
    /// is gone.
    @Test func aDeletionTheTwinDefersStaysQueuedAndHoldsUpNoOneElse() async throws {
        let near = try await NearSite()
        defer { try? FileManager.default.removeItem(atPath: near.root) }
        let twinStore = InMemoryBackend()
        let receiver = RemoteReceiver(backend: twinStore, mirror: true)
        let link = InMemoryLink { request, body in await receiver.respond(peer: "home-a", request: request, body: body) }
        var peer = Shipper.Remote(site: "home-b", link: link)
        peer.mirrorsDeletions = true
        let root = near.root
        let shipper = Shipper(backend: LocalBackend(root: root + "/repo"), stateDirectory: root + "/state", remote: peer, logger: Self.silent,
                              indexPath: { "\(root)/repo/\(TenantLayout($0).index)" })
        let commit = try await near.backup(bytes(300_000, seed: 21), at: Date(timeIntervalSince1970: 1_800_000_000))
        try await shipper.committed(tenant: Self.tenant, snapshot: commit.snapshot, time: Date(timeIntervalSince1970: 1_800_000_000),
                                    now: Date(), packs: commit.packs)
        #expect(await shipper.shipAll(tenants: [Self.tenant], now: { Date() }) == 1)
        try await shipper.retentionApplied(tenant: Self.tenant, forgotten: [commit.snapshot], retired: [], packsNow: [])
        let reader = try await twinStore.lock(TenantLayout(Self.tenant).lock, exclusive: false)
        let askedBefore = link.asked[.completed] ?? 0
        _ = await shipper.shipAll(tenants: [Self.tenant, "beta"], now: { Date() })
        #expect(await shipper.queue(Self.tenant).forgotten == [commit.snapshot], "the refused deletion left the queue")
        #expect(link.asked[.completed] == askedBefore + 2, "the next tenant was not shipped: \(link.asked)")
        #expect(try await twinStore.exists(TenantLayout(Self.tenant).snapshot(commit.snapshot)))
        await reader.release()
        _ = await shipper.shipAll(tenants: [Self.tenant], now: { Date() })
        #expect(await shipper.queue(Self.tenant).forgotten.isEmpty)
        #expect(try await !twinStore.exists(TenantLayout(Self.tenant).snapshot(commit.snapshot)))
    }
}

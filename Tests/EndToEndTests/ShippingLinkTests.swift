import Foundation
import Logging
import Testing
import TandemCore
import TandemPolicy
import TandemS3
import TandemSiteLab
import TandemSites
import TandemStore
import TandemTestSupport

/// Shipping to the remote site under the conditions a 200 km link brings: cuts at random
/// points, a WAN profile, a week of backups, a near site that tries to delete. The near site's
/// repository and shipper and the remote's receiver run in this process, over real loopback
/// TLS connections (through a ``TandemSiteLab/WANProxy`` where the link must misbehave); the
/// daemons wire exactly these parts together.
@Suite(.serialized) struct ShippingLinkTests {
    static let tenantName = "alpha"
    static let secret = KeySecret.passphrase(Array("shipping link passphrase".utf8))

    /// One CA with certificates for home-a and remote, made once by `tandemctl certs init`.
    static let certificates: String = {
        let dir = NSTemporaryDirectory() + "tandem-link-certs-" + UUID().uuidString.prefix(8).lowercased()
        let result = try? CLIRunner(repo: "").run(["certs", "init", "--dir", dir, "--site", LoopbackRemote.nearSite,
                                                   "--site", LoopbackRemote.remoteSite])
        precondition(result?.status == 0, "certs init failed: \(result?.stderr ?? "did not run")")
        return dir
    }()

    /// A near site's repository with one tenant, and what the daemon tells the shipper at commit.
    struct NearSite {
        let scratch = Scratch()
        let tenant: TenantRepository
        var root: String { scratch.file("near") }
        var backend: LocalBackend { LocalBackend(root: root) }

        init(chunker: ChunkerParameters = .defaultCDC) async throws {
            let repository = try await Repository.initialize(backend: LocalBackend(root: scratch.file("near")), now: Date())
            tenant = try await TenantRepository.create(in: repository, name: ShippingLinkTests.tenantName, suite: .aes256gcm,
                                                       chunker: chunker, compression: .zstd(level: 3),
                                                       secret: ShippingLinkTests.secret, now: Date())
        }

        struct Committed {
            let snapshot: String
            let time: Date
            let source: String?
            let packs: Set<String>
        }

        func backup(_ source: BackupSource, at time: Date, packSize: Int = 16 << 20) async throws -> Committed {
            var options = BackupOptions()
            options.packSize = packSize
            let result = try await tenant.backup(source, options: options, now: time)
            let record = try tenant.index.snapshots().first { $0.id == result.snapshotID }
            return Committed(snapshot: result.snapshotID, time: record?.time ?? time, source: record?.source,
                             packs: try await tenant.packsReferenced(by: result.snapshotID))
        }

        func shipper(to remote: LoopbackRemote, state: String) async throws -> Shipper {
            let root = root
            return try await remote.shipper(backend: backend, stateDirectory: scratch.file(state),
                                            indexPath: { "\(root)/tenants/\($0)/index.sqlite" })
        }

        func enqueue(_ commits: [Committed], on shipper: Shipper) async throws {
            for commit in commits {
                try await shipper.committed(tenant: ShippingLinkTests.tenantName, snapshot: commit.snapshot, time: commit.time,
                                            now: commit.time, source: commit.source, packs: commit.packs)
            }
        }

        func packSizes() throws -> [String: Int] {
            var sizes: [String: Int] = [:]
            let folder = root + "/tenants/\(ShippingLinkTests.tenantName)/packs"
            for path in try FileManager.default.subpathsOfDirectory(atPath: folder) where path.count == 67 {
                sizes[String(path.suffix(64))] = try FileManager.default.attributesOfItem(atPath: folder + "/" + path)[.size] as? Int
            }
            return sizes
        }
    }

    func ship(_ shipper: Shipper) async -> Int {
        await shipper.shipAll(tenants: [Self.tenantName], now: { Date() })
    }

    // MARK: - Cuts

    /// The link is cut at 100 random points of a three-snapshot round; each time the next
    /// round completes the rest, nothing is marked complete at the remote without all its
    /// packs, and the bytes wasted by the cut are at most the pack that was in flight.
    @Test func aLinkCutAnywhereResumesAndResendsAtMostThePackInFlight() async throws {
        let near = try await NearSite()
        var commits: [NearSite.Committed] = []
        for step in 0..<3 {
            let file = near.scratch.file("image-\(step)")
            try sampleBytes(400_000, seed: UInt64(step + 1)).write(to: URL(fileURLWithPath: file))
            commits.append(try await near.backup(.stream(path: file), at: Date(timeIntervalSinceNow: Double(step - 10)), packSize: 16 << 10))
        }
        let sizes = try near.packSizes()
        let largestPack = Int64(sizes.values.max() ?? 0)
        #expect(sizes.count >= 12, "the round should carry many packs, not \(sizes.count)")

        // A clean round: its length on the wire is where the cuts are placed.
        let clean = try await LoopbackRemote.start(backend: InMemoryBackend(), certificates: Self.certificates, profile: .loopback)
        let cleanShipper = try await near.shipper(to: clean, state: "state-clean")
        try await near.enqueue(commits, on: cleanShipper)
        #expect(await ship(cleanShipper) == 3)
        let cleanBytes = await clean.proxy!.counters().upstreamBytes
        await clean.stop()

        var generator = SeededRandom(seed: 2026)
        var worstWaste: Int64 = 0
        for run in 0..<100 {
            let remote = try await LoopbackRemote.start(backend: InMemoryBackend(), certificates: Self.certificates, profile: .loopback)
            let shipper = try await near.shipper(to: remote, state: "state-\(run)")
            try await near.enqueue(commits, on: shipper)
            let cutAt = Int64(generator.next() % UInt64(cleanBytes))
            await remote.proxy!.cut(afterUpstreamBytes: cutAt)
            let before = await ship(shipper)
            #expect(before < 3, "run \(run): the cut at byte \(cutAt) of \(cleanBytes) did not interrupt the round")
            // Whatever the remote calls complete is whole there.
            let (completed, _) = await remote.receiver.respond(peer: LoopbackRemote.nearSite,
                                                               request: LinkRequest(.completed, tenant: Self.tenantName, id: 1), body: [])
            let (held, _) = await remote.receiver.respond(peer: LoopbackRemote.nearSite,
                                                          request: LinkRequest(.listPacks, tenant: Self.tenantName, id: 2), body: [])
            #expect(completed.completedTimes?.count == before, "run \(run)")
            #expect(Set(completed.packNames ?? []).isSubset(of: Set(held.packNames ?? [])), "run \(run): a snapshot is complete without its packs")
            if before < 3 { #expect(await shipper.queue(Self.tenantName).pendingBytes > 0, "run \(run)") }

            let after = await ship(shipper)
            #expect(before + after == 3, "run \(run): the resumed round did not finish (cut at \(cutAt))")
            let statistics = await remote.receiver.statistics()
            #expect(statistics.packsStored == sizes.count && statistics.packsAlreadyHeld <= 1, "run \(run): \(statistics)")
            #expect(await shipper.queue(Self.tenantName).pendingBytes == 0)
            // Both rounds together cost the clean round, the pack in flight, and a second
            // handshake with its questions (a few KB).
            let waste = await remote.proxy!.counters().upstreamBytes - cleanBytes
            worstWaste = max(worstWaste, waste)
            #expect(waste <= largestPack + 16_384, "run \(run): the cut at \(cutAt) cost \(waste) bytes more than a clean round")
            await remote.stop()
        }
        report("link cuts: 100 runs, clean round \(cleanBytes) B, \(sizes.count) packs (largest \(largestPack) B), worst extra \(worstWaste) B")
    }

    // MARK: - WAN profile

    /// image-v2 after image-v1 over 5 ms RTT and 100 Mbit/s: the bytes on the wire are at most
    /// 1.1 times the bytes of the packs the second backup added.
    @Test func image2AfterImage1CostsTheLinkLittleMoreThanItsNewPacks() async throws {
        let near = try await NearSite()
        let remote = try await LoopbackRemote.start(backend: InMemoryBackend(), certificates: Self.certificates, profile: .wan100Mbit)
        defer { Task { await remote.stop() } }
        let shipper = try await near.shipper(to: remote, state: "state")
        let image = SyntheticImage(size: 24 << 20, seed: 42)
        let v1 = near.scratch.file("image-v1.raw"), v2 = near.scratch.file("image-v2.raw")
        try Data(image.version1).write(to: URL(fileURLWithPath: v1))
        try Data(image.version2()).write(to: URL(fileURLWithPath: v2))

        try await near.enqueue([try await near.backup(.stream(path: v1), at: Date())], on: shipper)
        #expect(await ship(shipper) == 1)
        let packsBefore = try near.packSizes()
        let wireBefore = await remote.proxy!.counters().upstreamBytes

        let second = try await near.backup(.stream(path: v2), at: Date())
        let committed = Date()
        try await near.enqueue([second], on: shipper)
        #expect(await ship(shipper) == 1)
        let rpo = Date().timeIntervalSince(committed)
        let newPackBytes = try near.packSizes().filter { packsBefore[$0.key] == nil }.values.reduce(0, +)
        let wire = await remote.proxy!.counters().upstreamBytes - wireBefore
        report("WAN (\(remote.proxy!.profile)): image-v2 added \(newPackBytes) B of packs, the link carried \(wire) B (\(String(format: "%.3f", Double(wire) / Double(newPackBytes)))x), complete \(String(format: "%.2f", rpo)) s after commit")
        #expect(newPackBytes > 0)
        #expect(Double(wire) <= 1.1 * Double(newPackBytes))
        // The rate limit was real: the bytes could not have crossed faster than 100 Mbit/s.
        #expect(rpo >= Double(wire) / 12_500_000 * 0.9)
    }

    // MARK: - A week

    /// Four backups a day for a simulated week, each shipped at once; then the remote's
    /// repository alone (with the tenant's key) restores every one of them byte for byte.
    /// Runs on a local remote and on the Ceph gateway when there is one.
    @Test(arguments: ["local", "s3"]) func aWeekOfShippedSnapshotsRestoresFromTheRemoteAlone(store: String) async throws {
        let environment = ProcessInfo.processInfo.environment
        let remoteScratch = Scratch()
        let remoteBackend: any Backend
        if store == "s3" {
            guard let endpoint = environment["S3_ENDPOINT"] else {
                #expect(environment["TANDEM_REQUIRE_S3"] != "1", "TANDEM_REQUIRE_S3=1 but S3_ENDPOINT is not set")
                return
            }
            let s3 = S3Backend(configuration: S3Configuration(
                endpoint: endpoint, bucket: "tandem-week-\(UUID().uuidString.prefix(8).lowercased())", prefix: "remote",
                region: environment["S3_REGION"] ?? "default", accessKey: environment["S3_ACCESS_KEY"] ?? "",
                secretKey: environment["S3_SECRET_KEY"] ?? ""))
            try await s3.createBucketIfMissing(objectLock: false)
            remoteBackend = s3
        } else {
            remoteBackend = LocalBackend(root: remoteScratch.file("repo"))
        }
        _ = try await Repository.initialize(backend: remoteBackend, now: Date())
        let remote = try await LoopbackRemote.start(backend: remoteBackend, certificates: Self.certificates)
        defer { Task { await remote.stop() } }

        let near = try await NearSite()
        let shipper = try await near.shipper(to: remote, state: "state")
        let tree = near.scratch.file("docs")
        try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
        let names = ["a.txt", "b.bin", "sub/c.bin", "sub/d.txt", "e.log"]
        var contents: [String: Data] = [:]
        for (index, name) in names.enumerated() { contents[name] = sampleBytes(20_000 + index * 3_000, seed: UInt64(index + 100)) }
        var expected: [String: [String: Data]] = [:]
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        for step in 0..<28 {
            // Every six hours: one file rewritten, one appended to.
            let rewritten = names[step % names.count], grown = names[(step * 3 + 1) % names.count]
            contents[rewritten] = sampleBytes(18_000 + step * 500, seed: UInt64(1000 + step))
            contents[grown]!.append(Data("step \(step)\n".utf8))
            for (name, data) in contents { try data.write(to: URL(fileURLWithPath: tree + "/" + name)) }
            let commit = try await near.backup(.tree(path: tree), at: start.addingTimeInterval(Double(step) * 6 * 3600))
            expected[commit.snapshot] = contents
            try await near.enqueue([commit], on: shipper)
            #expect(await ship(shipper) == 1, "step \(step)")
        }
        #expect(await shipper.queue(Self.tenantName).completeCount == 28)

        // The near site is gone: only the remote's repository and the key remain.
        let repository = try await Repository.open(backend: remoteBackend)
        let tenant = try await TenantRepository.open(in: repository, name: Self.tenantName, secret: Self.secret,
                                                     indexPath: remoteScratch.file("index.sqlite"))
        let snapshots = try await tenant.snapshots()
        #expect(Set(snapshots.map(\.id)) == Set(expected.keys))
        for snapshot in snapshots {
            let target = remoteScratch.file("restore-\(snapshot.id.prefix(12))")
            _ = try await tenant.restore(snapshot.id, to: .path(target), options: RestoreOptions())
            for (name, data) in expected[snapshot.id] ?? [:] {
                expectSameBytes(FileManager.default.contents(atPath: target + "/" + name), data)
            }
            try? FileManager.default.removeItem(atPath: target)
        }
        let check = try await tenant.check(readData: true)
        #expect(check.problems.isEmpty, "\(check.problems)")
    }

    // MARK: - Append-only

    /// A near site (or whoever holds its certificate) cannot delete or replace anything at the
    /// remote: a delete is not part of the protocol and closes the link; a replacement is refused.
    @Test func aNearSiteCannotDeleteOrReplaceAtTheRemote() async throws {
        let near = try await NearSite()
        let remoteBackend = InMemoryBackend()
        let remote = try await LoopbackRemote.start(backend: remoteBackend, certificates: Self.certificates)
        defer { Task { await remote.stop() } }
        let shipper = try await near.shipper(to: remote, state: "state")
        let file = near.scratch.file("image")
        try sampleBytes(200_000, seed: 5).write(to: URL(fileURLWithPath: file))
        let commit = try await near.backup(.stream(path: file), at: Date())
        try await near.enqueue([commit], on: shipper)
        #expect(await ship(shipper) == 1)
        let pack = try #require(commit.packs.first)
        let held = try await remoteBackend.list("tenants/\(Self.tenantName)")

        let tls = try LinkTLS(files: .init(certificatesDirectory: Self.certificates, site: LoopbackRemote.nearSite))
        let hello = LinkHello(site: LoopbackRemote.nearSite, role: "near", protocolMin: LinkHandshake.protocolMin,
                              protocolMax: LinkHandshake.protocolMax, features: LinkHandshake.features, channel: "bulk", safety: "")
        // A delete: the remote does not speak it and drops the connection.
        let delete = LinkFrame(kind: .request, header: Array(#"{"id":1,"op":"delete","tenant":"\#(Self.tenantName)","name":"\#(pack)"}"#.utf8), body: [])
        let dropped = await Self.peerReaction(port: remote.port, tls: tls, hello: hello) {
            try await $0.send(frame: delete)
            _ = try await $0.response(to: 1)
        }
        #expect(dropped?.contains("closed the link") == true, "\(dropped ?? "answered")")
        // Replacing the manifest or the tenant's settings with other bytes is refused.
        try await LinkConnection.with(host: "127.0.0.1", port: remote.port, peer: LoopbackRemote.remoteSite, tls: tls, hello: hello) {
            let manifest = try await $0.request(LinkRequest(.putObject(path: "snapshots/\(commit.snapshot)"), tenant: Self.tenantName),
                                                body: Array("forged".utf8))
            #expect(!manifest.ok)
            let settings = try await $0.request(LinkRequest(.putObject(path: "tenant.json"), tenant: Self.tenantName),
                                                body: Array("{}".utf8))
            #expect(!settings.ok && settings.refusal?.contains("never replaces") == true, "\(settings)")
            // A pack under another pack's name is refused too.
            let swapped = try await $0.request(LinkRequest(.putPack(name: pack), tenant: Self.tenantName), body: [1, 2, 3])
            #expect(!swapped.ok)
        }
        #expect(try await remoteBackend.list("tenants/\(Self.tenantName)") == held)
    }

    // MARK: - Hostile peers

    /// Connects (the handshake must succeed), runs `body`, and returns the error the peer's
    /// reaction caused, or nil (recorded as a failure) if it answered. A failure to connect
    /// is recorded too: it would say nothing about how the peer treats what `body` sends.
    static func peerReaction(port: Int, tls: LinkTLS, hello: LinkHello, _ body: (LinkConnection) async throws -> Void) async -> String? {
        var connected = false
        do {
            try await LinkConnection.with(host: "127.0.0.1", port: port, peer: LoopbackRemote.remoteSite, tls: tls, hello: hello) {
                connected = true
                try await body($0)
            }
            Issue.record("the peer answered instead of closing the link")
            return nil
        } catch {
            #expect(connected, "the link never came up: \(error)")
            return "\(error)"
        }
    }

    /// A peer speaking only a newer protocol is refused with the reason; one that sends an
    /// oversized frame or a frame that is not a Tandem frame is cut off; and the site goes on
    /// serving a well-behaved peer on the next connection.
    @Test func hostilePeersAreRefusedAndTheSiteKeepsServing() async throws {
        let remote = try await LoopbackRemote.start(backend: InMemoryBackend(), certificates: Self.certificates)
        defer { Task { await remote.stop() } }
        let tls = try LinkTLS(files: .init(certificatesDirectory: Self.certificates, site: LoopbackRemote.nearSite))
        func hello(min: Int = LinkHandshake.protocolMin, max: Int = LinkHandshake.protocolMax) -> LinkHello {
            LinkHello(site: LoopbackRemote.nearSite, role: "near", protocolMin: min, protocolMax: max, features: LinkHandshake.features,
                      channel: "bulk", safety: "")
        }
        // A newer protocol only.
        do {
            try await LinkConnection.with(host: "127.0.0.1", port: remote.port, peer: LoopbackRemote.remoteSite, tls: tls,
                                          hello: hello(min: 99, max: 100)) { _ in }
            Issue.record("a peer speaking only protocol 99-100 was accepted")
        } catch {
            #expect("\(error)".contains("no common protocol version"), "\(error)")
        }
        // An oversized frame: refused as soon as its prefix arrives, and the link is closed.
        let oversized = await Self.peerReaction(port: remote.port, tls: tls, hello: hello()) {
            let body = [UInt8](repeating: 0, count: LinkFrame.maximumBody + 1)
            _ = try await $0.request(LinkRequest(.putPack(name: String(repeating: "a", count: 64)), tenant: Self.tenantName), body: body)
        }
        #expect(oversized != nil)
        // A heartbeat in another site's name on this link.
        let impostor = await Self.peerReaction(port: remote.port, tls: tls, hello: hello()) {
            try await $0.send(.heartbeat(LinkHeartbeat(site: "someone-else", sequence: 1)))
            _ = try await $0.request(LinkRequest(.completed, tenant: Self.tenantName))
        }
        #expect(impostor?.contains("closed the link") == true, "\(impostor ?? "answered")")
        // The site still serves.
        let answer = try await LinkConnection.with(host: "127.0.0.1", port: remote.port, peer: LoopbackRemote.remoteSite, tls: tls,
                                                   hello: hello()) {
            try await $0.request(LinkRequest(.completed, tenant: Self.tenantName))
        }
        #expect(answer.ok && answer.completedTimes == [:])
    }
}


/// A disk image in the spirit of ../shared/bench/gen_dataset.py at test size: 4 KiB-aligned
/// regions of zeros, text-like and random data; version 2 rewrites about 2% of its blocks in
/// short runs and inserts a few pieces that shift everything after them.
struct SyntheticImage {
    let version1: [UInt8]
    let seed: UInt64

    init(size: Int, seed: UInt64) {
        self.seed = seed
        var generator = SeededRandom(seed: seed)
        var bytes = [UInt8]()
        bytes.reserveCapacity(size)
        while bytes.count < size {
            let length = min(size - bytes.count, 4096 * Int(1 + generator.next() % 128))
            switch generator.next() % 10 {
            case 0, 1, 2: bytes += [UInt8](repeating: 0, count: length)
            case 3, 4, 5, 6: bytes += Self.text(length, &generator)
            default: bytes += Self.random(length, &generator)
            }
        }
        version1 = bytes
    }

    func version2() -> [UInt8] {
        var generator = SeededRandom(seed: seed ^ 0xA5A5)
        var bytes = version1
        let blocks = bytes.count / 4096
        var rewritten = 0
        while rewritten < blocks / 50 {
            let run = Int(1 + generator.next() % 15)
            let first = Int(generator.next() % UInt64(max(1, blocks - run)))
            let fresh = generator.next() % 2 == 0 ? Self.random(run * 4096, &generator) : Self.text(run * 4096, &generator)
            bytes.replaceSubrange(first * 4096..<(first + run) * 4096, with: fresh)
            rewritten += run
        }
        for _ in 0..<20 {
            let at = Int(generator.next() % UInt64(bytes.count))
            bytes.insert(contentsOf: Self.random(Int(1024 + generator.next() % (99 * 1024)), &generator), at: at)
        }
        return bytes
    }

    static func random(_ count: Int, _ generator: inout SeededRandom) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count + 8)
        while out.count < count { withUnsafeBytes(of: generator.next()) { out += $0 } }
        return Array(out.prefix(count))
    }

    static func text(_ count: Int, _ generator: inout SeededRandom) -> [UInt8] {
        let words = ["replica", "site", "tenant", "snapshot", "pack", "lease", "epoch", "the", "of", "and", "backup", "restore"]
        var out = [UInt8]()
        out.reserveCapacity(count + 16)
        while out.count < count {
            out += Array(words[Int(generator.next() % UInt64(words.count))].utf8)
            out.append(generator.next() % 9 == 0 ? 10 : 32)
        }
        return Array(out.prefix(count))
    }
}

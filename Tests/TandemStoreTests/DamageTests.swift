import Foundation
import Testing
import TandemCodecs
import TandemCore
@testable import TandemStore

/// Tampering with any stored byte is detected, and a damaged restore fails rather than writing wrong data.
@Suite struct DamageTests {
    func flip(_ path: String, at offset: Int) {
        var bytes = read(path)
        bytes[offset % bytes.count] ^= 0x10
        write(bytes, to: path)
    }

    func setUp(_ dir: TemporaryDirectory) async throws -> TenantRepository {
        let tenant = try await makeTenant(dir)
        write(imageBytes(2 << 20, seed: 10), to: dir.file("a"))
        _ = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        return tenant
    }

    func packPaths(_ dir: TemporaryDirectory) -> [String] {
        FileManager.default.enumerator(atPath: dir.file("repo/tenants/acme/packs"))!.compactMap { $0 as? String }
            .filter { $0.count > 60 }.map { dir.file("repo/tenants/acme/packs/" + $0) }
    }

    @Test(arguments: [20, 5000, 200_000, -20, -1])
    func flippedPackByteIsFound(offset: Int) async throws {
        let dir = TemporaryDirectory()
        let tenant = try await setUp(dir)
        let pack = packPaths(dir)[0]
        let size = read(pack).count
        flip(pack, at: offset >= 0 ? offset : size + offset)
        let report = try await tenant.check(readData: true)
        #expect(!report.ok)
        #expect(report.problems.contains { $0.object.hasPrefix("pack ") && pack.hasSuffix(String($0.object.dropFirst(5))) })
    }

    /// A snapshot is never deduplicated against a pack known to be missing: after a pack is
    /// lost, the next backup of the same data stores its chunks again. Chunks are named by
    /// content, so that also makes the older snapshot whole again: check finds nothing.
    @Test func aBackupAfterALostPackStoresItsChunksAgain() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await setUp(dir)
        let lost = packPaths(dir).sorted()[0]
        try FileManager.default.removeItem(atPath: lost)
        let damaged = try await tenant.check(readData: false)
        #expect(damaged.problems.contains { $0.problem.contains("stored in no pack") }, "\(damaged.problems)")
        let second = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        #expect(second.summary.bytesNew > 0, "nothing was stored again: the backup deduplicated against the lost pack")
        let before = try await tenant.check(readData: true)
        #expect(before.problems.isEmpty, "\(before.problems)")
        _ = try await tenant.restore(second.snapshotID, to: .path(dir.file("restored")), options: RestoreOptions())
        #expect(read(dir.file("restored")) == read(dir.file("a")))
    }

    /// The sequence: a byte flipped inside a stored blob; `check --read-data` finds it
    /// and takes the blob out of the index for good (a rebuild does not bring it back); the next
    /// backup of the same data stores the chunk again (bytes_new > 0), which heals the older
    /// snapshot too; prune rewrites the damaged pack, and check is clean.
    @Test(arguments: [CheckOrRestore.check, .restore])
    func damageFoundLeavesTheIndexAndTheNextBackupHeals(finder: CheckOrRestore) async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, compression: .none)
        write(imageBytes(3 << 20, seed: 11).map { $0 ^ 0x5A }, to: dir.file("a"))
        let first = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        let pack = packPaths(dir).sorted()[1]
        flip(pack, at: read(pack).count / 2)
        switch finder {
        case .check:
            let found = try await tenant.check(readData: true)
            #expect(!found.ok && found.blobsTakenOutOfIndex == 1)
        case .restore:
            await #expect(throws: (any Error).self) {
                _ = try await tenant.restore(first.snapshotID, to: .path(dir.file("r0")), options: RestoreOptions())
            }
        }
        _ = try await tenant.rebuildIndex()
        let rebuilt = try await tenant.check(readData: false)
        #expect(rebuilt.problems.contains { $0.problem.contains("stored in no pack") }, "the rebuild brought the damaged blob back")
        let second = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        #expect(second.summary.bytesNew > 0 && second.summary.chunksNew == 1, "\(second.summary)")
        for (index, id) in [first.snapshotID, second.snapshotID].enumerated() {
            _ = try await tenant.restore(id, to: .path(dir.file("r\(index + 1)")), options: RestoreOptions())
            #expect(read(dir.file("r\(index + 1)")) == read(dir.file("a")))
        }
        let pruned = try await tenant.prune()
        #expect(pruned.retiredPacks.contains { pack.hasSuffix($0) })
        let after = try await tenant.check(readData: true)
        #expect(after.ok, "\(after.problems)")
        #expect(FileManager.default.enumerator(atPath: dir.file("repo/tenants/acme/damaged"))?.allObjects.isEmpty ?? true)
    }

    enum CheckOrRestore: Sendable, CaseIterable { case check, restore }

    /// The quick check (without --read-data) reads each pack's header too.
    @Test(arguments: [0, 8])
    func aDamagedPackHeaderIsFoundWithoutReadingData(offset: Int) async throws {
        let dir = TemporaryDirectory()
        let tenant = try await setUp(dir)
        let pack = packPaths(dir)[0]
        flip(pack, at: offset)
        let report = try await tenant.check(readData: false)
        #expect(report.problems.contains { $0.object.hasPrefix("pack ") && pack.hasSuffix(String($0.object.dropFirst(5))) }, "\(report.problems)")
    }

    @Test func truncatedPackIsFoundWithoutReadingData() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await setUp(dir)
        let pack = packPaths(dir)[0]
        write(Array(read(pack).prefix(1000)), to: pack)
        let report = try await tenant.check(readData: false)
        #expect(!report.ok)
    }

    @Test func damagedBlobFailsTheRestore() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await setUp(dir)
        let pack = packPaths(dir)[0]
        flip(pack, at: 5000)
        await #expect(throws: BlobError.self) {
            _ = try await tenant.restore("latest", to: .path(dir.file("out")), options: RestoreOptions())
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.tandem-partial")))
    }

    @Test func tamperedOrForgedManifestIsFound() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await setUp(dir)
        let snapshots = dir.file("repo/tenants/acme/snapshots")
        let id = try FileManager.default.contentsOfDirectory(atPath: snapshots)[0]
        // A forged manifest, sealed with another key, under its own correct content address.
        let forger = try ManifestCodec(keys: try TenantKeys(master: SecretKey.random(count: 32), suite: .aes256gcm), tenant: "acme")
        let forged = try forger.seal(SnapshotManifest(tenant: "acme", time: Date(), hostname: "evil", source: "/", kind: .stream))
        write(forged, to: snapshots + "/" + Hex.encode(Hasher256.hash(.sha256, forged)))
        flip(snapshots + "/" + id, at: 40)
        let report = try await tenant.check(readData: false)
        #expect(report.problems.count == 2)
        #expect(report.problems.contains { $0.problem.contains("do not hash") })
        #expect(report.problems.contains { $0.problem.contains("fails authentication") })
        // The forgery never reaches the catalog (only authentic manifests do), so retention
        // never counts it; prune refuses to guess what unreadable manifests reference.
        let listed = try await tenant.snapshots()
        #expect(listed.map(\.id) == [id])
        await #expect(throws: RepositoryError.self) { _ = try await tenant.prune() }
    }
}

/// Every single byte of a pack and of a manifest, flipped in turn, is caught by `check --read-data`.
@Suite struct ExhaustiveTamperTests {
    @Test func everyPackAndManifestByte() async throws {
        let dir = TemporaryDirectory()
        let backend = InMemoryBackend()
        let repository = try await Repository.initialize(backend: backend, now: Date())
        let tenant = try await TenantRepository.create(in: repository, name: "t", suite: .aes256gcm, chunker: .defaultCDC,
                                                       compression: .zstd(level: 1), secret: passphrase, now: Date(),
                                                       indexPath: dir.file("index.sqlite"))
        write(Array("a small file whose pack and manifest are tampered with, byte by byte\n".utf8), to: dir.file("src"))
        _ = try await tenant.backup(.stream(path: dir.file("src")), options: smallPacks(), now: Date())
        let objects = try await backend.list("tenants/t/packs") + (try await backend.list("tenants/t/snapshots"))
        #expect(objects.count == 2)
        for path in objects {
            let size = try await backend.size(path)
            for index in 0..<size {
                await backend.corrupt(path) { var b = $0; b[index] ^= 0x01; return b }
                let report = try await tenant.check(readData: true)
                #expect(!report.ok, "flipping byte \(index) of \(path) went unnoticed")
                await backend.corrupt(path) { var b = $0; b[index] ^= 0x01; return b }
            }
        }
        // Failing blobs were recorded damaged and left the index; with the good bytes back (as
        // a repair from a peer puts them), clearing the record makes the tenant whole again.
        let recorded = try await tenant.damagedBlobs()
        #expect(recorded.count == 1)
        for pack in recorded.keys { try await tenant.clearDamage(pack: pack) }
        // Clearing a pack that has no record (a lost pack fetched back) is not an error.
        try await tenant.clearDamage(pack: String(repeating: "ab", count: 32))
        #expect(try await tenant.check(readData: true).ok)
    }
}

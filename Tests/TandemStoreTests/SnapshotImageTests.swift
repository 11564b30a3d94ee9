import Foundation
import Testing
import TandemTestSupport
import TandemCore
@testable import TandemStore

/// Reading an image snapshot at any offset (what the NBD export serves), against the source.
@Suite struct SnapshotImageTests {
    /// Random reads return exactly the source's bytes; every extent called zero is zeros in
    /// the source, and the extents run on from the offset asked without a gap.
    func expectFaithful(_ image: SnapshotImage, _ source: [UInt8], seed: UInt64, reads: Int) async throws {
        var random = SeededRandom(seed: seed)
        #expect(image.size == source.count)
        for round in 0..<reads {
            let offset = Int.random(in: 0..<source.count, using: &random)
            let length = Int.random(in: 0...min(source.count - offset, round % 4 == 0 ? 3 << 20 : 70_000), using: &random)
            let bytes = try await image.read(offset: offset, length: length)
            expectSameBytes(Data(bytes), Data(source[offset..<offset + length]))
        }
        for _ in 0..<50 {
            let offset = Int.random(in: 0..<source.count, using: &random)
            var at = offset
            for extent in try await image.extents(offset: offset, length: 1 << 20) {
                #expect(extent.length > 0)
                if extent.zero { #expect(source[at..<min(source.count, at + extent.length)].allSatisfy { $0 == 0 }, "a data run called zero at \(at)") }
                at += extent.length
            }
            #expect(at > offset && at <= source.count)
        }
    }

    @Test func anImageReadsBackAtAnyOffset() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let source = imageBytes(6 << 20, seed: 77) + [UInt8](repeating: 0, count: 1 << 20) + imageBytes(100_001, seed: 78)
        write(source, to: dir.file("disk.img"))
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        let image = try await SnapshotImage.open(tenant: tenant, reference: "latest", cacheLimit: 1 << 20)
        try await expectFaithful(image, source, seed: 5, reads: 120)
        // The zero megabyte (at least the zero chunks inside it) is reported as zero.
        let extents = try await image.extents(offset: (6 << 20) + 300_000, length: 100_000)
        #expect(extents.first?.zero == true, "\(extents)")
        await image.close()
        await #expect(throws: RepositoryError.self) { _ = try await image.read(offset: 0, length: 1) }
    }

    /// More chunks than a manifest holds inline: the map is loaded one chunk-list blob at a time.
    @Test func anImageOfSeveralChunkListsReadsAcrossTheirEdges() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir, compression: .lz4, chunker: .fixed(size: 1024))
        let source = imageBytes((ChunkList.inlineLimit + 2000) * 1024 + 777, seed: 79)
        write(source, to: dir.file("disk.img"))
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: smallPacks(), now: Date())
        let manifest = try await tenant.loadManifest(try await tenant.resolveSnapshot("latest"))
        #expect((manifest.stream?.lists.count ?? 0) >= 2, "the image must span several chunk-list blobs")
        let image = try await SnapshotImage.open(tenant: tenant, reference: "latest", cacheLimit: 256 << 10)
        let edge = ChunkList.inlineLimit * 1024
        expectSameBytes(Data(try await image.read(offset: edge - 5000, length: 10_000)), Data(source[edge - 5000..<edge + 5000]))
        try await expectFaithful(image, source, seed: 6, reads: 30)
        await image.close()
    }

    @Test func aTreeSnapshotIsNotAnImage() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try FileManager.default.createDirectory(atPath: dir.file("tree"), withIntermediateDirectories: true)
        write(Array("a".utf8), to: dir.file("tree/a"))
        _ = try await tenant.backup(.tree(path: dir.file("tree")), options: BackupOptions(), now: Date())
        await #expect(throws: RepositoryError.self) { _ = try await SnapshotImage.open(tenant: tenant, reference: "latest") }
        // The shared lock taken for the attempt was given back: an exclusive one is free.
        let lock = try await tenant.lock(exclusive: true)
        await lock.release()
    }
}

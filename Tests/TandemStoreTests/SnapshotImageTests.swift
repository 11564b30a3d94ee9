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
            // The pieces an NBD reply is copied from: no empty run, and a zero run is zeros.
            let pieces = try await image.pieces(offset: offset, length: length)
            var at = offset
            for piece in pieces.pieces {
                switch piece {
                case .bytes(let slice):
                    #expect(!slice.isEmpty && Array(slice) == Array(source[at..<at + slice.count]), "bytes at \(at)")
                    at += slice.count
                case .zeros(let count):
                    #expect(count > 0 && source[at..<at + count].allSatisfy { $0 == 0 }, "zeros at \(at)")
                    at += count
                }
            }
            #expect(at == offset + length && pieces.count == length)
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

    /// A sequential pass in 256 KiB reads (as `nbdcopy` makes them) reads each group frame, and
    /// each blob, from the backend once: the chunks of one frame a read needs are decoded in one
    /// pass of its reader, in order, not fetched one by one and out of order (each then decoding
    /// the frame again from its start).
    /// With `concurrent` reads answered at once (as the NBD server answers a connection's
    /// requests), which reach a frame in any order, each blob is still read once: one fetch at a
    /// time per blob, the later finding in the cache what the earlier decoded.
    @Test(arguments: [1, 4])
    func aSequentialPassReadsEachGroupFrameOnce(concurrent: Int) async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let source = imageBytes(12 << 20, seed: 81)
        write(source, to: dir.file("disk.img"))
        var options = smallPacks()
        options.workers = 2
        _ = try await tenant.backup(.stream(path: dir.file("disk.img")), options: options, now: Date())
        let counting = RangedReadCounter(LocalBackend(root: dir.file("repo")))
        let reader = try await TenantRepository.open(in: try await Repository.open(backend: counting), name: "acme", secret: passphrase,
                                                     indexPath: dir.file("repo/tenants/acme/index.sqlite"))
        let image = try await SnapshotImage.open(tenant: reader, reference: "latest", cacheLimit: 8 << 20)
        let starts = Array(stride(from: 0, to: source.count, by: 256 << 10))
        for batch in stride(from: 0, to: starts.count, by: concurrent) {
            try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
                for offset in starts[batch..<min(starts.count, batch + concurrent)].reversed() {
                    group.addTask { (offset, try await image.read(offset: offset, length: min(256 << 10, source.count - offset))) }
                }
                for try await (offset, bytes) in group {
                    expectSameBytes(Data(bytes), Data(source[offset..<offset + bytes.count]))
                }
            }
        }
        await image.close()
        let reads = await counting.reads
        #expect(reads.count > 12, "the image must span many blobs: \(reads.count)")
        let again = reads.filter { $0.value > 1 }
        #expect(again.isEmpty, "read more than once: \(again.count) of \(reads.count), e.g. \(again.first.map { "\($0.key) \($0.value) times" } ?? "")")
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

/// Counts the ranged reads of a backend (a blob or a group frame each) by path and offset.
actor RangedReadCounter: Backend {
    let inner: any Backend
    private(set) var reads: [String: Int] = [:]

    init(_ inner: any Backend) { self.inner = inner }

    func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
        reads["\(path)@\(offset)", default: 0] += 1
        return try await inner.read(path, offset: offset, length: length)
    }

    func write(_ path: String, _ bytes: [UInt8], overwrite: Bool) async throws { try await inner.write(path, bytes, overwrite: overwrite) }
    func read(_ path: String) async throws -> [UInt8] { try await inner.read(path) }
    func size(_ path: String) async throws -> Int { try await inner.size(path) }
    func list(_ prefix: String) async throws -> [String] { try await inner.list(prefix) }
    func delete(_ path: String) async throws { try await inner.delete(path) }
    func exists(_ path: String) async throws -> Bool { try await inner.exists(path) }
    func lock(_ path: String, exclusive: Bool) async throws -> BackendLock { try await inner.lock(path, exclusive: exclusive) }
    nonisolated func makeUpload(in folder: String) throws -> any BackendUpload { try inner.makeUpload(in: folder) }
    func removeIncompleteWrites(_ prefix: String, olderThan cutoff: Date) async throws -> Int {
        try await inner.removeIncompleteWrites(prefix, olderThan: cutoff)
    }
}

import Foundation
import TandemStore
import Testing

/// The contract every ``TandemStore/Backend`` must meet (restic's backend test suite is the
/// model), as checks any test target can run against its backend: the local and in-memory
/// backends in TandemStoreTests, S3 on a real Ceph gateway in TandemS3Tests. Each check uses
/// paths below `base`, so several runs can share one bucket.
public struct BackendConformance: Sendable {
    public let name: String
    public let backend: any Backend
    public let base: String

    public init(name: String, backend: any Backend, base: String = "conformance-\(UUID().uuidString.prefix(8).lowercased())") {
        self.name = name
        self.backend = backend
        self.base = base
    }

    func p(_ path: String) -> String { "\(base)/\(path)" }

    public func runAll() async throws {
        try await writeReadListDelete()
        try await locksExcludeIncompatibleHolders()
        try await uploadsAssemblePiecesInAnyOrder()
        try await listingsSpanManyObjects()
    }

    public func writeReadListDelete() async throws {
        try await backend.write(p("a/b/one"), [1, 2, 3, 4, 5], overwrite: false)
        try await backend.write(p("a/two"), [9], overwrite: false)
        #expect(try await backend.read(p("a/b/one")) == [1, 2, 3, 4, 5], "\(name)")
        #expect(try await backend.read(p("a/b/one"), offset: 1, length: 3) == [2, 3, 4], "\(name)")
        #expect(try await backend.size(p("a/b/one")) == 5, "\(name)")
        #expect(try await backend.list(p("a")) == [p("a/b/one"), p("a/two")], "\(name)")
        #expect(try await backend.list(p("missing")) == [], "\(name)")
        await #expect(throws: BackendError.alreadyExists(p("a/two")), "\(name)") { try await backend.write(p("a/two"), [8], overwrite: false) }
        #expect(try await backend.read(p("a/two")) == [9], "\(name): a refused create must keep the old bytes")
        try await backend.write(p("a/two"), [7], overwrite: true)
        #expect(try await backend.read(p("a/two")) == [7], "\(name)")
        await #expect(throws: BackendError.shortRead(p("a/b/one")), "\(name)") { try await backend.read(p("a/b/one"), offset: 3, length: 3) }
        await #expect(throws: BackendError.notFound(p("nope")), "\(name)") { try await backend.read(p("nope")) }
        await #expect(throws: BackendError.notFound(p("nope")), "\(name)") { try await backend.size(p("nope")) }
        try await backend.delete(p("a/two"))
        try await backend.delete(p("a/two"))
        // Nor is removing an object whose folder never existed.
        try await backend.delete(p("no/such/folder/object"))
        #expect(try await backend.exists(p("a/two")) == false, "\(name)")
        #expect(try await backend.exists(p("a/b/one")) == true, "\(name)")
        #expect(try await backend.list(p("a")) == [p("a/b/one")], "\(name)")
        try await backend.write(p("empty"), [], overwrite: false)
        #expect(try await backend.read(p("empty")) == [], "\(name)")
        // A write that skips the cache stores and refuses exactly like any other, whatever the
        // slice's address and length (a local backend writes page-aligned bytes as they lie,
        // stages others, and writes an unaligned tail through the cache).
        let pool = (0..<(2 << 20) + 20_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        let aligned = pool.withUnsafeBytes { (4096 - Int(bitPattern: $0.baseAddress!) % 4096) % 4096 }
        let cases: [(String, Range<Int>)] = [
            ("cold/pack", 3..<300_003), ("cold/aligned", aligned..<aligned + (2 << 20) + 8192),
            ("cold/aligned-tail", aligned..<aligned + (2 << 20) + 4097), ("cold/small", 17..<1000), ("cold/page", aligned..<aligned + 4096),
        ]
        for (path, range) in cases {
            try await backend.writeUncached(p(path), pool[range], overwrite: false)
            #expect(try await backend.read(p(path)) == Array(pool[range]), "\(name) \(path)")
            #expect(try await backend.size(p(path)) == range.count, "\(name) \(path)")
        }
        await #expect(throws: BackendError.alreadyExists(p("cold/pack")), "\(name)") {
            try await backend.writeUncached(p("cold/pack"), [1], overwrite: false)
        }
        #expect(try await backend.size(p("cold/pack")) == 300_000, "\(name)")
    }

    public func locksExcludeIncompatibleHolders() async throws {
        let shared1 = try await backend.lock(p("lock"), exclusive: false)
        let shared2 = try await backend.lock(p("lock"), exclusive: false)
        await #expect(throws: BackendError.locked(p("lock")), "\(name)") { _ = try await backend.lock(p("lock"), exclusive: true) }
        await shared1.release()
        await shared2.release()
        let exclusive = try await backend.lock(p("lock"), exclusive: true)
        await #expect(throws: BackendError.locked(p("lock")), "\(name)") { _ = try await backend.lock(p("lock"), exclusive: false) }
        await #expect(throws: BackendError.locked(p("lock")), "\(name)") { _ = try await backend.lock(p("lock"), exclusive: true) }
        await exclusive.release()
        let again = try await backend.lock(p("lock"), exclusive: true)
        await again.release()
    }

    /// `size` bytes written as pieces in a shuffled order, committed, read back equal.
    public func uploadsAssemblePiecesInAnyOrder(size: Int = 3 << 20, piece: Int = 300_000) async throws {
        var state: UInt64 = 7
        let bytes = (0..<size).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33)
        }
        let upload = try backend.makeUpload(in: p("packs"))
        let offsets = Array(stride(from: 0, to: size, by: piece))
        for offset in offsets.reversed() + [] {
            try await upload.write(Array(bytes[offset..<min(size, offset + piece)]), at: offset)
        }
        try await upload.commit(as: p("packs/ab/pack"))
        expectSameBytes(try await backend.read(p("packs/ab/pack")), bytes)
        #expect(try await backend.list(p("packs")) == [p("packs/ab/pack")], "\(name): no staging leftovers in the listing")
        let aborted = try backend.makeUpload(in: p("packs"))
        try await aborted.write([1, 2, 3], at: 0)
        await aborted.abort()
        #expect(try await backend.list(p("packs")) == [p("packs/ab/pack")], "\(name)")
    }

    /// More objects than one listing page (S3 pages at 1000).
    public func listingsSpanManyObjects(count: Int = 1100) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for start in stride(from: 0, to: count, by: count / 8 + 1) {
                group.addTask {
                    for index in start..<min(count, start + count / 8 + 1) {
                        try await backend.write(p(String(format: "many/%05d", index)), [UInt8(index & 0xff)], overwrite: false)
                    }
                }
            }
            try await group.waitForAll()
        }
        let listed = try await backend.list(p("many"))
        #expect(listed.count == count, "\(name)")
        #expect(listed == (0..<count).map { p(String(format: "many/%05d", $0)) }, "\(name)")
    }
}

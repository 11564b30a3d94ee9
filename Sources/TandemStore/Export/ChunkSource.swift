import Foundation
import TandemCodecs
import TandemCore

/// Chunks of one tenant read at random, shared by every ``SnapshotImage`` of a served image or a
/// mounted repository: the tenant lock (shared, so no prune deletes a pack still read), where
/// each chunk is stored, open group readers, and a bounded cache of decoded chunks. Each chunk
/// is fetched, authenticated (the AEAD with its ID as associated data) and decompressed once
/// while it stays in the cache.
public actor ChunkSource {
    public nonisolated let tenant: TenantRepository
    private let locations: [ChunkID: BlobLocation]
    private let readers = GroupReaderCache()
    private var lock: BackendLock?
    private var cache: [ChunkID: (bytes: [UInt8], used: Int)] = [:]
    private var cachedBytes = 0
    private var tick = 0
    /// The decoded chunks kept for repeated reads.
    public nonisolated let cacheLimit: Int
    /// The IDs of all-zero chunks of the chunker's maximum (and fixed) length, by length:
    /// reads know them without fetching, and a mount's many files need not each hash zeros.
    public nonisolated let zeroIDs: [Int: ChunkID]

    /// Takes the tenant lock shared and learns where every chunk is stored.
    public static func open(tenant: TenantRepository, cacheLimit: Int = 64 << 20) async throws -> ChunkSource {
        let lock = try await tenant.lock(exclusive: false)
        do {
            _ = try await tenant.reconcile()
            return try ChunkSource(tenant: tenant, locations: tenant.index.allLocations(), lock: lock, cacheLimit: cacheLimit)
        } catch {
            await lock.release()
            throw error
        }
    }

    private init(tenant: TenantRepository, locations: [ChunkID: BlobLocation], lock: BackendLock, cacheLimit: Int) throws {
        self.tenant = tenant
        self.locations = locations
        self.lock = lock
        self.cacheLimit = cacheLimit
        let sealer = try BlobSealer(keys: tenant.keys, compression: .none)
        var lengths = [tenant.settings.chunker.maximumChunkSize]
        if case .fixed(let size) = tenant.settings.chunker { lengths.append(size) }
        zeroIDs = Dictionary(lengths.map { ($0, Self.zeroID(length: $0, sealer: sealer)) }) { first, _ in first }
    }

    /// The ID of `length` zero bytes.
    static func zeroID(length: Int, sealer: BlobSealer) -> ChunkID {
        [UInt8](repeating: 0, count: length).withUnsafeBytes { sealer.chunkID(of: $0) }
    }

    /// Whether ``close()`` has run.
    public var isClosed: Bool { lock == nil }

    /// Releases the tenant lock; reads fail afterwards.
    public func close() async {
        await lock?.release()
        lock = nil
        cache = [:]
        cachedBytes = 0
    }

    /// The chunk references of a chunk-list blob.
    func chunkList(_ list: ChunkListRef) async throws -> [ChunkRef] {
        guard lock != nil else { throw RepositoryError.damaged("the snapshot's reader was closed") }
        // A sealer per call: it holds cipher state, and the call leaves the actor.
        return try await tenant.loadChunkList(list, sealer: try BlobSealer(keys: tenant.keys, compression: .none), locations: locations)
    }

    /// One chunk's plaintext, from the cache or fetched, authenticated and decompressed;
    /// `start` (its offset in what is read) only names it in errors.
    func chunk(_ ref: ChunkRef, at start: Int) async throws -> [UInt8] {
        guard lock != nil else { throw RepositoryError.damaged("the snapshot's reader was closed") }
        tick += 1
        if let hit = cache[ref.id] {
            cache[ref.id]?.used = tick
            return hit.bytes
        }
        var plain: [UInt8] = []
        let job = RestoreJob(sequence: 0, output: 0, offset: start, id: ref.id, length: ref.length, zero: false)
        let sealer = try BlobSealer(keys: tenant.keys, compression: .none)
        try await tenant.fetch([job], locations: locations, sealer: sealer, readers: readers) { _, payload in
            switch payload {
            case .bytes(let bytes): plain = bytes
            case .zeros(let count): plain = [UInt8](repeating: 0, count: count)
            }
        }
        while cachedBytes + plain.count > cacheLimit, let oldest = cache.min(by: { $0.value.used < $1.value.used }) {
            cachedBytes -= oldest.value.bytes.count
            cache[oldest.key] = nil
        }
        cache[ref.id] = (plain, tick)
        cachedBytes += plain.count
        return plain
    }
}

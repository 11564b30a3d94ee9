import Foundation
import TandemCodecs
import TandemCore

/// Chunks of one tenant read at random, shared by every ``SnapshotImage`` of a served image or a
/// mounted repository: the tenant lock (shared, so no prune deletes a pack still read), where
/// each chunk is stored, open group readers, and a bounded cache of decoded chunks (the least
/// recently used evicted first). Each chunk is fetched, authenticated (the AEAD with its ID as
/// associated data) and decompressed once while it stays in the cache: one fetch at a time
/// reads a blob, and the members a pass through a group frame decompresses on its way are
/// kept too.
public actor ChunkSource {
    public nonisolated let tenant: TenantRepository
    private nonisolated let locations: [ChunkID: BlobLocation]
    private let readers = GroupReaderCache()
    private var lock: BackendLock?
    private var cache: RecentlyUsedCache<ChunkID, [UInt8]>
    /// Blobs a fetch is reading (by pack and offset), with the fetches waiting for them.
    private var busyBlobs: [GroupReaderCache.Key: [CheckedContinuation<Void, Never>]] = [:]
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
        cache = RecentlyUsedCache(limit: cacheLimit)
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
        cache.removeAll()
    }

    /// The chunk references of a chunk-list blob.
    func chunkList(_ list: ChunkListRef) async throws -> [ChunkRef] {
        guard lock != nil else { throw RepositoryError.damaged("the snapshot's reader was closed") }
        // A sealer per call: it holds cipher state, and the call leaves the actor.
        return try await tenant.loadChunkList(list, sealer: try BlobSealer(keys: tenant.keys, compression: .none), locations: locations)
    }

    /// The chunks `refs` (in the order read) as fetches: the chunks stored in one group frame go
    /// together, in their order in the frame, so that one pass of its reader decodes them all
    /// (fetched one by one and at once, they would reach the frame out of order and each decode
    /// it again from its start); a chunk stored on its own is a fetch of its own. Each fetch lists
    /// indices into `refs`; fetches are in the order their first chunk is read.
    public nonisolated func fetches(for refs: [ChunkRef]) -> [[Int]] {
        var fetches: [[Int]] = []
        var frames: [GroupReaderCache.Key: Int] = [:]
        for (index, ref) in refs.enumerated() {
            guard let location = locations[ref.id], location.inner != nil else {
                fetches.append([index])
                continue
            }
            let key = GroupReaderCache.Key(pack: location.pack, offset: location.offset)
            if let fetch = frames[key] {
                fetches[fetch].append(index)
            } else {
                frames[key] = fetches.count
                fetches.append([index])
            }
        }
        for fetch in frames.values where fetches[fetch].count > 1 {
            fetches[fetch].sort { (locations[refs[$0].id]?.inner ?? 0) < (locations[refs[$1].id]?.inner ?? 0) }
        }
        return fetches
    }

    /// The plaintexts of `refs` (one fetch of ``fetches(for:)``), from the cache or fetched,
    /// authenticated and decompressed; `starts` (their offsets in what is read) only name them
    /// in errors.
    func chunks(_ refs: [ChunkRef], at starts: [Int]) async throws -> [[UInt8]] {
        guard lock != nil else { throw RepositoryError.damaged("the snapshot's reader was closed") }
        // One fetch at a time per blob (a group frame, or a chunk stored alone): a later one then
        // finds in the cache what the earlier one decoded, on its way through a frame or at the
        // edge of two reads, instead of decoding it again (or, reaching a frame first, sending
        // the earlier one back to the frame's start), since reads answered at once arrive in
        // any order.
        let blob = refs.first.flatMap { locations[$0.id] }.map { GroupReaderCache.Key(pack: $0.pack, offset: $0.offset) }
        if let blob {
            while busyBlobs[blob] != nil {
                await withCheckedContinuation { busyBlobs[blob, default: []].append($0) }
            }
            busyBlobs[blob] = []
        }
        defer {
            if let blob, let waiters = busyBlobs.removeValue(forKey: blob) {
                for waiter in waiters { waiter.resume() }
            }
        }
        return try await chunksOnceFree(refs, at: starts)
    }

    private func chunksOnceFree(_ refs: [ChunkRef], at starts: [Int]) async throws -> [[UInt8]] {
        var plains = [[UInt8]?](repeating: nil, count: refs.count)
        var jobs: [RestoreJob] = [], fetching: [ChunkID: Int] = [:]
        for (index, ref) in refs.enumerated() {
            if let hit = cache.value(for: ref.id) {
                plains[index] = hit
            } else if fetching[ref.id] == nil {
                // A chunk repeated within the fetch is decoded once.
                fetching[ref.id] = index
                jobs.append(RestoreJob(sequence: index, output: 0, offset: starts[index], id: ref.id, length: ref.length, zero: false))
            }
        }
        if !jobs.isEmpty {
            let sealer = try BlobSealer(keys: tenant.keys, compression: .none)
            let passed = try await tenant.fetch(jobs, locations: locations, sealer: sealer, readers: readers,
                                                  keepPassed: cacheLimit / 8) { job, payload in
                switch payload {
                case .bytes(let bytes): plains[job.sequence] = bytes
                case .zeros(let count): plains[job.sequence] = [UInt8](repeating: 0, count: count)
                }
            }
            // The frame's members decoded on the way, so that a read reaching them later (the
            // frame filled out of the image's order) finds them instead of decoding it again.
            for member in passed where fetching[member.id] == nil {
                cache.insert(member.plain, for: member.id, cost: member.plain.count)
            }
            for job in jobs {
                let plain = plains[job.sequence]!
                cache.insert(plain, for: job.id, cost: plain.count)
            }
        }
        return refs.indices.map { plains[$0] ?? plains[fetching[refs[$0].id]!]! }
    }
}

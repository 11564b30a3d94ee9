import Foundation
import TandemCodecs
import TandemCore

/// A stream snapshot (an image, a block device, stdin) read at any offset without restoring
/// it: what an NBD export serves. Only the chunks a read touches are fetched, each
/// authenticated (the AEAD with its ID as associated data) and decompressed once into a
/// bounded cache; all-zero chunks are known by their ID and never fetched. The snapshot's
/// chunk map stays as compact as in the manifest: chunk-list blobs are loaded as reads reach
/// them (a few at a time), so a 2 TB image costs no more memory than a small one. Holds the
/// tenant lock shared until ``close()``, so no prune deletes a pack it may still read.
public actor SnapshotImage {
    /// One span of the image: chunk references stored inline, or one chunk-list blob.
    private enum Piece {
        case inline([ChunkRef])
        case blob(ChunkListRef)
    }

    public nonisolated let snapshotID: String
    public nonisolated let size: Int
    private let tenant: TenantRepository
    private let locations: [ChunkID: BlobLocation]
    private let sealer: BlobSealer
    private let readers = GroupReaderCache()
    private let pieces: [Piece]
    /// Where each piece starts in the image.
    private let pieceStarts: [Int]
    private var lock: BackendLock?
    /// Chunk maps of recently read pieces: each chunk's start in the image and reference.
    private var maps: [Int: (starts: [Int], refs: [ChunkRef], used: Int)] = [:]
    private var cache: [ChunkID: (bytes: [UInt8], used: Int)] = [:]
    private var cachedBytes = 0
    private var tick = 0
    private var zeroIDs = Set<ChunkID>()
    private var triedLengths = Set<Int>()
    /// The decoded chunks kept for repeated reads.
    public let cacheLimit: Int

    /// Opens `reference` (an ID, a prefix or `latest`) of `tenant`, which must be a stream
    /// snapshot, and takes the tenant lock shared.
    public static func open(tenant: TenantRepository, reference: String, cacheLimit: Int = 64 << 20) async throws -> SnapshotImage {
        let lock = try await tenant.lock(exclusive: false)
        do {
            _ = try await tenant.reconcile()
            let id = try await tenant.resolveSnapshot(reference)
            let manifest = try await tenant.loadManifest(id)
            guard manifest.kind == .stream else { throw RepositoryError.notAnImage(id) }
            return try SnapshotImage(tenant: tenant, id: id, list: manifest.stream ?? ChunkList(), lock: lock, cacheLimit: cacheLimit)
        } catch {
            await lock.release()
            throw error
        }
    }

    private init(tenant: TenantRepository, id: String, list: ChunkList, lock: BackendLock, cacheLimit: Int) throws {
        self.tenant = tenant
        snapshotID = id
        self.lock = lock
        self.cacheLimit = cacheLimit
        locations = try tenant.index.allLocations()
        let sealer = try BlobSealer(keys: tenant.keys, compression: .none)
        self.sealer = sealer
        var pieces: [Piece] = [], starts: [Int] = [], offset = 0
        if !list.refs.isEmpty {
            pieces.append(.inline(list.refs))
            starts.append(0)
            offset = list.refs.reduce(0) { $0 + $1.length }
        }
        for blob in list.lists {
            pieces.append(.blob(blob))
            starts.append(offset)
            offset += blob.length
        }
        self.pieces = pieces
        pieceStarts = starts
        size = offset
        var lengths = [tenant.settings.chunker.maximumChunkSize]
        if case .fixed(let size) = tenant.settings.chunker { lengths.append(size) }
        triedLengths = Set(lengths)
        zeroIDs = Set(lengths.map { Self.zeroID(length: $0, sealer: sealer) })
    }

    /// Releases the tenant lock; reads fail afterwards.
    public func close() async {
        await lock?.release()
        lock = nil
        cache = [:]
        maps = [:]
    }

    /// `length` bytes from `offset` (within the image), every chunk authenticated.
    public func read(offset: Int, length: Int) async throws -> [UInt8] {
        precondition(offset >= 0 && length >= 0 && offset + length <= size, "a read outside the image")
        guard lock != nil else { throw RepositoryError.damaged("the image of \(snapshotID.prefix(12)) was closed") }
        var needed: [(start: Int, ref: ChunkRef)] = []
        try await forEachChunk(from: offset, to: offset + length) { start, ref in
            if !zeroIDs.contains(ref.id) { needed.append((start, ref)) }
        }
        // Up to `fetchesInFlight` chunks at once: each fetch (read, authenticate, decompress)
        // runs off this actor, so one long read keeps both the disk and the cores busy.
        var out = [UInt8](repeating: 0, count: length)
        try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            var next = 0
            func startNext() {
                let index = next, (start, ref) = needed[index]
                group.addTask { (index, try await self.chunk(ref, at: start)) }
                next += 1
            }
            while next < min(needed.count, Self.fetchesInFlight) { startNext() }
            while let (index, plain) = try await group.next() {
                let (start, ref) = needed[index]
                let from = max(offset, start), to = min(offset + length, start + ref.length)
                out.withUnsafeMutableBufferPointer { target in
                    plain.withUnsafeBufferPointer { source in
                        let copy = UnsafeBufferPointer(rebasing: source[(from - start)..<(to - start)])
                        _ = UnsafeMutableBufferPointer(rebasing: target[(from - offset)...]).initialize(from: copy)
                    }
                }
                if next < needed.count { startNext() }
            }
        }
        return out
    }

    /// Chunks one read fetches at a time.
    static let fetchesInFlight = 2 * ProcessInfo.processInfo.activeProcessorCount

    /// Which bytes from `offset` are zero chunks (`zero`) and which hold data, as runs covering
    /// at least one chunk and at most about `length` bytes (clipped to the image).
    public func extents(offset: Int, length: Int) async throws -> [(length: Int, zero: Bool)] {
        precondition(offset >= 0 && offset < size, "an extent outside the image")
        let end = min(size, offset + max(1, length))
        var runs: [(length: Int, zero: Bool)] = []
        try await forEachChunk(from: offset, to: end) { start, ref in
            let from = max(offset, start), to = start + ref.length
            let zero = zeroIDs.contains(ref.id)
            if let last = runs.last, last.zero == zero, last.length + (to - from) < 1 << 30 {
                runs[runs.count - 1].length += to - from
            } else {
                runs.append((to - from, zero))
            }
        }
        return runs
    }

    /// Calls `body` with each chunk overlapping `[from, to)` and its start in the image, in order.
    private func forEachChunk(from: Int, to: Int, _ body: (Int, ChunkRef) async throws -> Void) async throws {
        guard from < to else { return }
        var piece = Self.lastIndex(in: pieceStarts, atOrBefore: from)
        while piece < pieces.count, pieceStarts[piece] < to {
            let map = try await chunkMap(piece)
            var index = Self.lastIndex(in: map.starts, atOrBefore: max(from, pieceStarts[piece]))
            while index < map.refs.count, map.starts[index] < to {
                try await body(map.starts[index], map.refs[index])
                index += 1
            }
            piece += 1
        }
    }

    private static func lastIndex(in starts: [Int], atOrBefore offset: Int) -> Int {
        var low = 0, high = starts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if starts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return max(0, low)
    }

    /// The chunk starts and references of one piece, loading a chunk-list blob if needed.
    private func chunkMap(_ piece: Int) async throws -> (starts: [Int], refs: [ChunkRef]) {
        tick += 1
        if let map = maps[piece] {
            maps[piece]?.used = tick
            return (map.starts, map.refs)
        }
        let refs: [ChunkRef]
        switch pieces[piece] {
        case .inline(let inline): refs = inline
        case .blob(let list):
            // A sealer per call: it holds cipher state, and the call leaves the actor.
            refs = try await tenant.loadChunkList(list, sealer: try BlobSealer(keys: tenant.keys, compression: .none), locations: locations)
        }
        var starts: [Int] = [], offset = pieceStarts[piece]
        starts.reserveCapacity(refs.count)
        var seen = Set<ChunkID>()
        for ref in refs {
            starts.append(offset)
            offset += ref.length
            // A zero run cut into chunks repeats one ID per length (as RestorePlan learns it).
            if !zeroIDs.contains(ref.id), !seen.insert(ref.id).inserted { learnZero(ref.length) }
        }
        if maps.count >= 4, let oldest = maps.min(by: { $0.value.used < $1.value.used })?.key { maps[oldest] = nil }
        maps[piece] = (starts, refs, tick)
        return (starts, refs)
    }

    /// One chunk's plaintext, from the cache or fetched, authenticated and decompressed.
    private func chunk(_ ref: ChunkRef, at start: Int) async throws -> [UInt8] {
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

    private func learnZero(_ length: Int) {
        guard length > 0, triedLengths.count < 4096, triedLengths.insert(length).inserted else { return }
        zeroIDs.insert(Self.zeroID(length: length, sealer: sealer))
    }

    private static func zeroID(length: Int, sealer: BlobSealer) -> ChunkID {
        [UInt8](repeating: 0, count: length).withUnsafeBytes { sealer.chunkID(of: $0) }
    }
}

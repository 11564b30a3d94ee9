import Foundation
import TandemCodecs
import TandemCore

/// A stream snapshot (an image, a block device, stdin), or one file of a tree snapshot, read at
/// any offset without restoring it: what an NBD export serves and a mount reads. Only the
/// chunks a read touches are fetched, each authenticated (the AEAD with its ID as associated
/// data) and decompressed once into the bounded cache of its ``ChunkSource``; all-zero chunks
/// are known by their ID and never fetched. The chunk map stays as compact as in the manifest:
/// chunk-list blobs are loaded as reads reach them (a few at a time), so a 2 TB image costs no
/// more memory than a small one. An image opened with ``open(tenant:reference:cacheLimit:)``
/// owns its source (and the tenant lock, held shared until ``close()``).
public actor SnapshotImage {
    /// One span of the image: chunk references stored inline, or one chunk-list blob.
    private enum Piece {
        case inline([ChunkRef])
        case blob(ChunkListRef)
    }

    public nonisolated let snapshotID: String
    public nonisolated let size: Int
    private let source: ChunkSource
    /// Whether ``close()`` closes the source too (it was opened for this image alone).
    private let ownsSource: Bool
    private var closed = false
    /// Made when a read first meets a zero run of a new length (most images never do).
    private var sealer: BlobSealer?
    private let pieces: [Piece]
    /// Where each piece starts in the image.
    private let pieceStarts: [Int]
    /// Chunk maps of recently read pieces: each chunk's start in the image and reference.
    private var maps: [Int: (starts: [Int], refs: [ChunkRef], used: Int)] = [:]
    private var tick = 0
    private var zeroIDs = Set<ChunkID>()
    private var triedLengths = Set<Int>()

    /// Opens `reference` (an ID, a prefix or `latest`) of `tenant`, which must be a stream
    /// snapshot, and takes the tenant lock shared.
    public static func open(tenant: TenantRepository, reference: String, cacheLimit: Int = 64 << 20) async throws -> SnapshotImage {
        let source = try await ChunkSource.open(tenant: tenant, cacheLimit: cacheLimit)
        do {
            let id = try await tenant.resolveSnapshot(reference)
            let manifest = try await tenant.loadManifest(id)
            guard manifest.kind == .stream else { throw RepositoryError.notAnImage(id) }
            return try SnapshotImage(source: source, owning: true, id: id, list: manifest.stream ?? ChunkList())
        } catch {
            await source.close()
            throw error
        }
    }

    /// The bytes `list` names (a file of snapshot `id`), read through `source`, which stays
    /// open when this closes.
    public init(source: ChunkSource, id: String, list: ChunkList) throws {
        try self.init(source: source, owning: false, id: id, list: list)
    }

    private init(source: ChunkSource, owning: Bool, id: String, list: ChunkList) throws {
        self.source = source
        ownsSource = owning
        snapshotID = id
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
        // The zero chunks of the chunker's own lengths, known to the source already.
        triedLengths = Set(source.zeroIDs.keys)
        zeroIDs = Set(source.zeroIDs.values)
    }

    /// Reads fail afterwards; an image that owns its source releases the tenant lock.
    public func close() async {
        closed = true
        maps = [:]
        if ownsSource { await source.close() }
    }

    /// `length` bytes from `offset` (within the image), every chunk authenticated.
    public func read(offset: Int, length: Int) async throws -> [UInt8] {
        try await pieces(offset: offset, length: length).bytes
    }

    /// The same bytes as ``read(offset:length:)``, as the slices of the decoded chunks and the
    /// zero runs between them, for a caller that copies them once into its own buffer.
    public func pieces(offset: Int, length: Int) async throws -> ImageBytes {
        precondition(offset >= 0 && length >= 0 && offset + length <= size, "a read outside the image")
        guard !closed else { throw RepositoryError.damaged("the image of \(snapshotID.prefix(12)) was closed") }
        var found: [(start: Int, ref: ChunkRef)] = []
        try await forEachChunk(from: offset, to: offset + length) { start, ref in
            if !zeroIDs.contains(ref.id) { found.append((start, ref)) }
        }
        let needed = found
        // Up to `fetchesInFlight` fetches at once, each the chunks of one group frame or one chunk
        // stored alone (ChunkSource.fetches): each runs off this actor, so one long read keeps
        // both the disk and the cores busy, and no frame is decoded twice for one read.
        let fetches = source.fetches(for: needed.map(\.ref))
        var plains = [[UInt8]](repeating: [], count: needed.count)
        try await withThrowingTaskGroup(of: (Int, [[UInt8]]).self) { group in
            var next = 0
            func startNext() {
                let index = next, fetch = fetches[index].map { needed[$0] }
                group.addTask { (index, try await self.source.chunks(fetch.map(\.ref), at: fetch.map(\.start))) }
                next += 1
            }
            while next < min(fetches.count, Self.fetchesInFlight) { startNext() }
            while let (index, fetched) = try await group.next() {
                for (member, plain) in zip(fetches[index], fetched) { plains[member] = plain }
                if next < fetches.count { startNext() }
            }
        }
        var bytes = ImageBytes(count: length)
        var at = offset
        for (index, (start, ref)) in needed.enumerated() {
            let from = max(offset, start), to = min(offset + length, start + ref.length)
            if from > at { bytes.pieces.append(.zeros(from - at)) }
            bytes.pieces.append(.bytes(plains[index][(from - start)..<(to - start)]))
            at = to
        }
        if offset + length > at { bytes.pieces.append(.zeros(offset + length - at)) }
        return bytes
    }

    /// Fetches one read runs at a time.
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
        case .blob(let list): refs = try await source.chunkList(list)
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

    private func learnZero(_ length: Int) {
        guard length > 0, triedLengths.count < 4096, triedLengths.insert(length).inserted else { return }
        if sealer == nil { sealer = try? BlobSealer(keys: source.tenant.keys, compression: .none) }
        guard let sealer else { return }
        zeroIDs.insert(ChunkSource.zeroID(length: length, sealer: sealer))
    }
}

/// Bytes read from an image, in order: slices of decoded chunks and runs of zeros.
public struct ImageBytes: Sendable {
    /// One run of the bytes.
    public enum Piece: Sendable {
        case bytes(ArraySlice<UInt8>)
        case zeros(Int)
    }

    /// The runs, in order; their lengths add up to ``count``.
    public internal(set) var pieces: [Piece] = []
    public let count: Int

    init(count: Int) { self.count = count }

    /// The bytes in one array.
    public var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = copy(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Copies the bytes to the start of `target` (at least ``count`` bytes); returns ``count``.
    public func copy(into target: UnsafeMutableRawBufferPointer) -> Int {
        precondition(target.count >= count, "ImageBytes: a target too small")
        var at = 0
        for piece in pieces {
            switch piece {
            case .bytes(let slice):
                slice.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: target[at..<(at + $0.count)]).copyMemory(from: $0) }
                at += slice.count
            case .zeros(let count):
                UnsafeMutableRawBufferPointer(rebasing: target[at..<(at + count)]).initializeMemory(as: UInt8.self, repeating: 0)
                at += count
            }
        }
        precondition(at == count, "ImageBytes: pieces of \(at) bytes for \(count)")
        return at
    }
}

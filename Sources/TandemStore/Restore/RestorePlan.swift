import TandemCodecs
import TandemCore

/// Hands out a restore's chunks in order, numbered, with each one's output and offset, loading
/// chunk-list blobs one at a time: memory holds one list (≤ 16384 references), never the
/// whole snapshot's, whatever its size.
///
/// All-zero chunks (runs of zeros in images dedupe to a few repeated IDs) are recognised by
/// their ID, the keyed hash of zeros of their length, and marked so nothing is fetched for them.
actor RestorePlan {
    /// One output's chunks.
    struct Segment: Sendable {
        let output: Int
        let list: ChunkList
    }

    private enum Piece {
        case inline([ChunkRef])
        case blob(ChunkListRef)
    }

    private let tenant: TenantRepository
    private let locations: [ChunkID: BlobLocation]
    private let sealer: BlobSealer
    private var pieces: [(output: Int, piece: Piece)] = []
    private var nextPiece = 0
    private var buffer: [ChunkRef] = []
    private var bufferOutput = 0
    private var position = 0
    private var outputOffset = 0
    private var sequence = 0
    private var loading: (generation: Int, output: Int, task: Task<[ChunkRef], any Error>)?
    private var generation = 0
    private var zeroIDs = Set<ChunkID>()
    private var triedLengths = Set<Int>()
    /// IDs seen so far (up to ``seenLimit``, then forgotten), to notice repeats.
    private var seenIDs = Set<ChunkID>()
    private static let seenLimit = 16384

    init(segments: [Segment], tenant: TenantRepository, locations: [ChunkID: BlobLocation], likelyZeroLengths: [Int]) throws {
        self.tenant = tenant
        self.locations = locations
        let sealer = try BlobSealer(keys: tenant.keys, compression: .none)
        self.sealer = sealer
        var pieces: [(output: Int, piece: Piece)] = []
        for segment in segments {
            if !segment.list.refs.isEmpty { pieces.append((segment.output, .inline(segment.list.refs))) }
            for blob in segment.list.lists { pieces.append((segment.output, .blob(blob))) }
        }
        self.pieces = pieces
        let lengths = Set(likelyZeroLengths.filter { $0 > 0 })
        triedLengths = lengths
        zeroIDs = Set(lengths.map { Self.zeroID(length: $0, sealer: sealer) })
    }

    private static func zeroID(length: Int, sealer: BlobSealer) -> ChunkID {
        [UInt8](repeating: 0, count: length).withUnsafeBytes { sealer.chunkID(of: $0) }
    }

    /// The next chunk to restore, or nil when all were handed out.
    func next() async throws -> RestoreJob? {
        while true {
            if position < buffer.count {
                let ref = buffer[position]
                defer {
                    position += 1
                    outputOffset += ref.length
                    sequence += 1
                }
                return RestoreJob(sequence: sequence, output: bufferOutput, offset: outputOffset, id: ref.id,
                                  length: ref.length, zero: zeroIDs.contains(ref.id))
            }
            if let current = loading {
                // Another caller is loading the next list: whoever resumes first installs it.
                let refs = try await current.task.value
                if loading?.generation == current.generation {
                    loading = nil
                    install(refs, output: current.output)
                }
                continue
            }
            guard nextPiece < pieces.count else { return nil }
            let (output, piece) = pieces[nextPiece]
            nextPiece += 1
            switch piece {
            case .inline(let refs):
                install(refs, output: output)
            case .blob(let list):
                let tenant = self.tenant, locations = self.locations
                let task = Task {
                    try await tenant.loadChunkList(list, sealer: try BlobSealer(keys: tenant.keys, compression: .none),
                                                   locations: locations)
                }
                generation += 1
                loading = (generation, output, task)
            }
        }
    }

    /// The next jobs: one, or a run in which every chunk from a group frame lies in the same
    /// frame, in increasing order, so one ``ChunkGroupReader`` serves them all (chunks stored on
    /// their own and zero chunks may come between: an image interleaves compressible chunks,
    /// which are grouped, with random ones, which are not). Empty when all were handed out.
    func nextRun(limit: Int = 64, bytes byteLimit: Int = 1 << 20) async throws -> [RestoreJob] {
        guard let first = try await next() else { return [] }
        var run = [first]
        var bytes = first.length
        var frame: (pack: String, offset: Int, end: Int)?
        if !first.zero, let location = locations[first.id], let inner = location.inner {
            frame = (location.pack, location.offset, inner + location.rawLength)
        }
        while run.count < limit, bytes < byteLimit, position < buffer.count {
            let ref = buffer[position]
            if !zeroIDs.contains(ref.id), let location = locations[ref.id], let inner = location.inner {
                if let current = frame {
                    guard location.pack == current.pack, location.offset == current.offset, inner >= current.end else { break }
                }
                frame = (location.pack, location.offset, inner + location.rawLength)
            }
            guard let job = try await self.next() else { break }
            run.append(job)
            bytes += job.length
        }
        return run
    }

    private func install(_ refs: [ChunkRef], output: Int) {
        if output != bufferOutput { outputOffset = 0 }
        bufferOutput = output
        buffer = refs
        position = 0
        // A zero run cut into chunks, or a tree's empty-disk files, repeat one ID per length:
        // a repeated ID may be the zero ID of its length. (Repeated lengths would be cheaper to
        // count but are mostly chance: an image's 16384 chunks share thousands, and hashing zeros
        // for each stalled every worker waiting on this actor.) A tree gives each file its own
        // list, so IDs are remembered across lists.
        for ref in refs where !zeroIDs.contains(ref.id) {
            if !seenIDs.insert(ref.id).inserted { learnZero(ref.length) }
        }
        if seenIDs.count > Self.seenLimit { seenIDs.removeAll(keepingCapacity: true) }
    }

    private func learnZero(_ length: Int) {
        guard length > 0, triedLengths.count < 4096, triedLengths.insert(length).inserted else { return }
        zeroIDs.insert(Self.zeroID(length: length, sealer: sealer))
    }
}

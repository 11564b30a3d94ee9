import Foundation
import TandemCodecs
import TandemCore

/// Cuts a file into chunks as a backup would, naming each by its SHA-256.
enum ChunkScan {
    /// Streams `path` through `parameters`' chunker, hashing each chunk with SHA-256 as it goes.
    /// `visit` sees each chunk's digest and length in order.
    static func scan(_ path: String, _ parameters: ChunkerParameters, gear: GearTable,
                     visit: (ChunkID, Int) -> Void) throws {
        var chunker = Chunker(parameters, gear: gear)
        let hasher = Hasher256(.sha256)
        var pending = 0
        try Files.stream(path) { piece in
            var offset = 0
            while offset < piece.count {
                let rest = UnsafeRawBufferPointer(rebasing: piece[offset...])
                if let cut = chunker.findBoundary(in: rest) {
                    hasher.update(UnsafeRawBufferPointer(rebasing: rest[..<cut]))
                    visit(ChunkID(bytes: hasher.finalize()), pending + cut)
                    pending = 0
                    offset += cut
                } else {
                    hasher.update(rest)
                    pending += rest.count
                    offset = piece.count
                }
            }
        }
        if pending > 0 { visit(ChunkID(bytes: hasher.finalize()), pending) }
    }
}

/// The outcome for one parameter set: v1's chunk count and the bytes v2 adds after dedup against
/// v1 (and within itself), uncompressed.
struct ChunkingResult: Encodable {
    let chunker: String
    let v1Chunks: Int
    let v1UniqueChunks: Int
    let v1MeanChunkBytes: Double
    let v2Chunks: Int
    let v2NewChunks: Int
    let v2NewBytes: Int64
    /// v2's new bytes / the bytes the generator actually changed (1.0 would be perfect).
    let amplification: Double?
    let seconds: Double

    static func measure(_ parameters: ChunkerParameters, image: String, image2: String,
                        gear: GearTable, changedBytes: Int64?) throws -> ChunkingResult {
        let start = Monotonic.now()
        var v1 = Set<ChunkID>()
        var v1Chunks = 0
        var v1Bytes: Int64 = 0
        try ChunkScan.scan(image, parameters, gear: gear) { id, length in
            v1.insert(id)
            v1Chunks += 1
            v1Bytes += Int64(length)
        }
        let v1Unique = v1.count
        var v2Chunks = 0, newChunks = 0
        var newBytes: Int64 = 0
        try ChunkScan.scan(image2, parameters, gear: gear) { id, length in
            v2Chunks += 1
            if v1.insert(id).inserted {
                newChunks += 1
                newBytes += Int64(length)
            }
        }
        return ChunkingResult(chunker: parameters.description, v1Chunks: v1Chunks, v1UniqueChunks: v1Unique,
                              v1MeanChunkBytes: Double(v1Bytes) / Double(max(v1Chunks, 1)), v2Chunks: v2Chunks,
                              v2NewChunks: newChunks, v2NewBytes: newBytes,
                              amplification: changedBytes.map { Double(newBytes) / Double(max($0, 1)) },
                              seconds: Monotonic.now() - start)
    }
}

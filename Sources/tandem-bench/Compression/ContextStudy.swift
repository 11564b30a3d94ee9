import CZstd
import Foundation
import TandemCore

/// One row of `tandem-bench compression`: a chunking, a zstd level and a dictionary, and what the
/// image's chunks came to.
struct CompressionResult: Encodable {
    let chunker: String
    let level: Int32
    let dictionaryBytes: Int
    /// Chunks compressed (all-zero chunks are left out: a repository stores one of them).
    let chunks: Int
    /// Sum over those chunks of min(compressed frame, raw length).
    let storedBytes: Int64
    /// Time compressing them, one thread.
    let seconds: Double
}

/// Chunk-at-a-time zstd over an image held in memory, with and without a raw-content dictionary.
enum ContextStudy {
    /// Offsets and lengths of the chunks `parameters` cuts `image` into.
    static func cut(_ image: UnsafeRawBufferPointer, _ parameters: ChunkerParameters, gear: GearTable) -> [(offset: Int, length: Int)] {
        var chunker = Chunker(parameters, gear: gear)
        var chunks: [(offset: Int, length: Int)] = []
        var start = 0
        while start < image.count {
            let rest = UnsafeRawBufferPointer(rebasing: image[start...])
            let length = chunker.findBoundary(in: rest) ?? rest.count
            chunks.append((start, length))
            start += length
        }
        return chunks
    }

    /// A raw-content dictionary of about `size` bytes: 64 KiB pieces evenly spaced over the image,
    /// keeping those that zstd level 1 shrinks to between 2% and 70% (text-like and structured
    /// data; zeros and random bytes teach nothing).
    static func sampleDictionary(_ image: UnsafeRawBufferPointer, size: Int) -> [UInt8] {
        let piece = 64 << 10
        guard size >= piece, image.count >= piece else { return [] }
        let wanted = size / piece
        let candidates = wanted * 8
        let pieces = image.count / piece
        let cctx = ZSTD_createCCtx()
        defer { ZSTD_freeCCtx(cctx) }
        var scratch = [UInt8](repeating: 0, count: ZSTD_compressBound(piece))
        var dictionary: [UInt8] = []
        for candidate in 0..<candidates where dictionary.count < wanted * piece {
            let start = candidate * pieces / candidates * piece
            let source = UnsafeRawBufferPointer(rebasing: image[start ..< start + piece])
            let compressed = scratch.withUnsafeMutableBytes {
                ZSTD_compressCCtx(cctx, $0.baseAddress, $0.count, source.baseAddress, piece, 1)
            }
            guard ZSTD_isError(compressed) == 0, compressed * 10 < piece * 7, compressed * 50 > piece else { continue }
            dictionary.append(contentsOf: source)
        }
        return dictionary
    }

    /// Compresses every chunk that is not all zeros on its own, at `level`, with `dictionary` when
    /// it is not empty.
    static func measure(_ image: UnsafeRawBufferPointer, chunks: [(offset: Int, length: Int)], chunker: String,
                        level: Int32, dictionary: [UInt8]) throws -> CompressionResult {
        guard let cctx = ZSTD_createCCtx() else { throw BenchError("ZSTD_createCCtx failed") }
        defer { ZSTD_freeCCtx(cctx) }
        let cdict = dictionary.isEmpty ? nil : dictionary.withUnsafeBytes { ZSTD_createCDict($0.baseAddress, $0.count, level) }
        defer { ZSTD_freeCDict(cdict) }
        let largest = chunks.map(\.length).max() ?? 0
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(largest))
        var stored: Int64 = 0
        var compressed = 0
        let start = Monotonic.now()
        try output.withUnsafeMutableBytes { out in
            for chunk in chunks {
                let source = UnsafeRawBufferPointer(rebasing: image[chunk.offset ..< chunk.offset + chunk.length])
                if source.allSatisfy({ $0 == 0 }) { continue }
                let written = if let cdict {
                    ZSTD_compress_usingCDict(cctx, out.baseAddress, out.count, source.baseAddress, source.count, cdict)
                } else {
                    ZSTD_compressCCtx(cctx, out.baseAddress, out.count, source.baseAddress, source.count, level)
                }
                guard ZSTD_isError(written) == 0 else { throw BenchError("zstd: \(String(cString: ZSTD_getErrorName(written)))") }
                stored += Int64(min(written, chunk.length))
                compressed += 1
            }
        }
        return CompressionResult(chunker: chunker, level: level, dictionaryBytes: dictionary.count, chunks: compressed,
                                 storedBytes: stored, seconds: Monotonic.now() - start)
    }
}

import Foundation
import TandemCore
import TandemCodecs

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
        guard let probe = try? ZstdDictionaryCompressor(dictionary: [], level: 1) else { return [] }
        var dictionary: [UInt8] = []
        for candidate in 0..<candidates where dictionary.count < wanted * piece {
            let start = candidate * pieces / candidates * piece
            let source = UnsafeRawBufferPointer(rebasing: image[start ..< start + piece])
            guard let compressed = try? probe.compressedSize(source), compressed * 10 < piece * 7, compressed * 50 > piece else { continue }
            dictionary.append(contentsOf: source)
        }
        return dictionary
    }

    /// Compresses every chunk that is not all zeros on its own, at `level`, with `dictionary` when
    /// it is not empty.
    static func measure(_ image: UnsafeRawBufferPointer, chunks: [(offset: Int, length: Int)], chunker: String,
                        level: Int32, dictionary: [UInt8]) throws -> CompressionResult {
        let compressor = try ZstdDictionaryCompressor(dictionary: dictionary, level: level)
        var stored: Int64 = 0
        var compressed = 0
        let start = Monotonic.now()
        for chunk in chunks {
            let source = UnsafeRawBufferPointer(rebasing: image[chunk.offset ..< chunk.offset + chunk.length])
            if source.allSatisfy({ $0 == 0 }) { continue }
            stored += Int64(min(try compressor.compressedSize(source), chunk.length))
            compressed += 1
        }
        return CompressionResult(chunker: chunker, level: level, dictionaryBytes: dictionary.count, chunks: compressed,
                                 storedBytes: stored, seconds: Monotonic.now() - start)
    }
}

import Foundation

/// The deterministic buffer the primitive benchmarks run on: by bytes 30% random, 40% text-like
/// (Zipf-skewed words), 10% zeros and 20% repeated 32-byte records, in segments of log-uniform
/// length (4 KiB ... 1 MiB) whose kinds are drawn in proportion to each kind's remaining quota, so
/// the shares come out exact and every 64 KiB window is a realistic mix.
enum MixedBuffer {
    /// What a segment holds.
    enum Kind: Int, CaseIterable, Sendable {
        case random, text, zeros, records

        /// Share of the buffer's bytes.
        var share: Double {
            switch self {
            case .random: 0.30
            case .text: 0.40
            case .zeros: 0.10
            case .records: 0.20
            }
        }
    }

    /// Composition, for reports.
    static let description = "30% random, 40% text-like, 10% zeros, 20% repeated 32-byte records"

    static func make(size: Int, seed: UInt64 = 42) -> [UInt8] {
        var rng = SeededGenerator(seed: seed)
        let vocabulary = Vocabulary(&rng)
        var quota = Kind.allCases.map { Int(Double(size) * $0.share) }
        quota[quota.count - 1] += size - quota.reduce(0, +)
        var out = [UInt8](repeating: 0, count: size)
        out.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < size {
                var pick = Int(rng.next() % UInt64(quota.reduce(0, +)))
                var kind = 0
                while pick >= quota[kind] { pick -= quota[kind]; kind += 1 }
                let length = min(Int(pow(2.0, 12 + 8 * rng.unit())), quota[kind], size - offset)
                let segment = UnsafeMutableRawBufferPointer(rebasing: buffer[offset ..< offset + length])
                switch Kind(rawValue: kind)! {
                case .random: fillRandom(segment, &rng)
                case .text: vocabulary.fill(segment, &rng)
                case .zeros: break
                case .records: fillRecords(segment, &rng)
                }
                quota[kind] -= length
                offset += length
            }
        }
        return out
    }

    private static func fillRandom(_ segment: UnsafeMutableRawBufferPointer, _ rng: inout SeededGenerator) {
        var i = 0
        while i + 8 <= segment.count {
            segment.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < segment.count { segment[i] = UInt8(truncatingIfNeeded: rng.next()); i += 1 }
    }

    /// A 24-byte template per segment, then a 4-byte counter and a 4-byte small value per record.
    private static func fillRecords(_ segment: UnsafeMutableRawBufferPointer, _ rng: inout SeededGenerator) {
        var template = [UInt8](repeating: 0, count: 32)
        for i in 0 ..< 24 { template[i] = UInt8(truncatingIfNeeded: rng.next()) }
        var counter = UInt32(truncatingIfNeeded: rng.next() % 1_000_000)
        var i = 0
        while i < segment.count {
            withUnsafeBytes(of: counter.littleEndian) { for (k, b) in $0.enumerated() { template[24 + k] = b } }
            let value = UInt32(rng.next() % 1000)
            withUnsafeBytes(of: value.littleEndian) { for (k, b) in $0.enumerated() { template[28 + k] = b } }
            let n = min(32, segment.count - i)
            for k in 0 ..< n { segment[i + k] = template[k] }
            counter &+= 1
            i += n
        }
    }
}

/// Text-like bytes: 4096 words of 2-10 letters, each with a separator attached, drawn with a
/// Zipf-like skew (index = V * u^3).
private struct Vocabulary {
    private var bytes: [UInt8] = []
    private var starts: [Int] = []

    init(_ rng: inout SeededGenerator) {
        let separators: [[UInt8]] = Array(repeating: [0x20], count: 10) + [", ", ".\n", "\n", ": ", "; "].map { Array($0.utf8) }
        for _ in 0 ..< 4096 {
            starts.append(bytes.count)
            let length = 2 + Int(rng.next() % 9)
            for _ in 0 ..< length { bytes.append(UInt8(ascii: "a") + UInt8(rng.next() % 26)) }
            bytes += separators[Int(rng.next() % UInt64(separators.count))]
        }
        starts.append(bytes.count)
    }

    func fill(_ segment: UnsafeMutableRawBufferPointer, _ rng: inout SeededGenerator) {
        let words = starts.count - 1
        var i = 0
        bytes.withUnsafeBytes { source in
            while i < segment.count {
                let u = rng.unit()
                let word = min(Int(Double(words) * u * u * u), words - 1)
                let start = starts[word]
                let n = min(starts[word + 1] - start, segment.count - i)
                segment.baseAddress!.advanced(by: i).copyMemory(from: source.baseAddress! + start, byteCount: n)
                i += n
            }
        }
    }
}

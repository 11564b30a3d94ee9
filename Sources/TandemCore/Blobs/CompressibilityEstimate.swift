import Foundation

/// A cheap guess whether a chunk is worth compressing, as btrfs's compression heuristic does:
/// three 4 KiB samples (start, middle, end) whose byte entropy is all near 8 bits/byte are
/// random, encrypted or already compressed, and zstd would only spend time to give them back
/// raw. Costs ~12 K byte-counter increments per chunk, a few percent of compressing it.
public enum CompressibilityEstimate {
    /// Bits per byte at or above which a sample counts as incompressible. Uniform random bytes
    /// give ~7.95 on a 4 KiB sample; text ~4.5, structured records well under 7.
    public static let threshold = 7.9
    static let sampleSize = 4096

    /// True when every sample's byte entropy reaches ``threshold`` (chunks under 16 KiB are always tried).
    public static func looksIncompressible(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 * sampleSize else { return false }
        for start in [0, bytes.count / 2 - sampleSize / 2, bytes.count - sampleSize] {
            if entropy(UnsafeRawBufferPointer(rebasing: bytes[start ..< start + sampleSize])) < threshold { return false }
        }
        return true
    }

    /// Shannon entropy of the byte histogram, in bits per byte.
    public static func entropy(_ sample: UnsafeRawBufferPointer) -> Double {
        var counts = [Int](repeating: 0, count: 256)
        counts.withUnsafeMutableBufferPointer { table in
            for byte in sample { table[Int(byte)] &+= 1 }
        }
        let total = Double(sample.count)
        var bits = 0.0
        for count in counts where count > 0 {
            let p = Double(count) / total
            bits -= p * log2(p)
        }
        return bits
    }
}

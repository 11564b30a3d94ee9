@testable import TandemCodecs

/// Deterministic SplitMix64 generator so failures are reproducible.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var v = next()
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: v)
                v >>= 8
                i += 1
            }
        }
        return out
    }
}

/// Lower-case hex encoding.
func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0xF)])
    }
    return s
}

/// Decodes hex (whitespace ignored); traps on malformed literals in tests.
func unhex(_ s: String) -> [UInt8] {
    let chars = Array(s.filter { !$0.isWhitespace })
    precondition(chars.count % 2 == 0, "odd hex length")
    return stride(from: 0, to: chars.count, by: 2).map { UInt8(String(chars[$0...$0 + 1]), radix: 16)! }
}

/// UTF-8 bytes of a string.
func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Deterministic English-like text (compressible, non-trivial).
func sampleText(_ count: Int, seed: UInt64 = 7) -> [UInt8] {
    let words = ["backup", "replica", "tandem", "chunk", "snapshot", "the", "of", "and", "daemon",
                 "storage", "verify", "restore", "index", "block", "stream", "a", "to", "zstd"]
    var rng = SeededRNG(seed: seed)
    var out: [UInt8] = []
    out.reserveCapacity(count + 16)
    while out.count < count {
        out += utf8(words[Int(rng.next() % UInt64(words.count))])
        out.append(rng.next() % 11 == 0 ? 0x0A : 0x20)
    }
    return Array(out.prefix(count))
}

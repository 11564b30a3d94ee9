import TandemCodecs
import TandemCore

/// Deterministic test bytes: a SplitMix64 stream, so golden values never depend on the platform.
struct SeededBytes {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` bytes: random runs mixed with repeated text and zeros, like a real image.
    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        let text = Array("the quick brown fox jumps over the lazy dog; ".utf8)
        while out.count < count {
            let run = Int(next() % 20_000) + 100
            switch next() % 3 {
            case 0:
                for _ in 0..<run { out.append(UInt8(truncatingIfNeeded: next())) }
            case 1:
                for i in 0..<run { out.append(text[i % text.count]) }
            default:
                out.append(contentsOf: repeatElement(0, count: run))
            }
        }
        return Array(out.prefix(count))
    }
}

enum Fixtures {
    static let gear = GearTable(seed: Array(repeating: 7, count: 32))
    static let master = SecretKey(bytes: Array(0..<32))
}

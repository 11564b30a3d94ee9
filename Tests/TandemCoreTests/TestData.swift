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
            // The last run stops at `count` (the bytes returned are the same as with a whole run).
            let run = min(Int(next() % 20_000) + 100, count - out.count)
            switch next() % 3 {
            case 0:
                for _ in 0..<run { out.append(UInt8(truncatingIfNeeded: next())) }
            case 1:
                for i in 0..<run { out.append(text[i % text.count]) }
            default:
                out.append(contentsOf: repeatElement(0, count: run))
            }
        }
        return out
    }
}

/// One seeded damage to a decoder's valid input, for the fuzz loops.
enum Mutation {
    /// 1 to `count` bytes replaced by bytes of `alphabet`, or flipped when it is empty.
    case overwrite(count: Int, alphabet: [UInt8])
    /// One byte of `alphabet` inserted.
    case insert(alphabet: [UInt8])
    /// One byte removed.
    case remove
    /// Cut to a random shorter length.
    case truncate
    /// 1 to 64 random bytes appended.
    case append
}

extension SeededBytes {
    /// `bytes` (not empty) with `mutation` applied at seeded places.
    mutating func mutated(_ bytes: [UInt8], _ mutation: Mutation) -> [UInt8] {
        var out = bytes
        func place() -> Int { Int(next() % UInt64(out.count)) }
        switch mutation {
        case .overwrite(let count, let alphabet):
            for _ in 0..<(1 + Int(next() % UInt64(max(count, 1)))) {
                let at = place()
                out[at] = alphabet.isEmpty ? out[at] ^ UInt8(truncatingIfNeeded: next() | 1) : alphabet[Int(next() % UInt64(alphabet.count))]
            }
        case .insert(let alphabet):
            out.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: place())
        case .remove:
            out.remove(at: place())
        case .truncate:
            out = Array(out.prefix(place()))
        case .append:
            out += self.bytes(1 + Int(next() % 64))
        }
        return out
    }
}

enum Fixtures {
    static let gear = GearTable(seed: Array(repeating: 7, count: 32))
    static let master = SecretKey(bytes: Array(0..<32))
}

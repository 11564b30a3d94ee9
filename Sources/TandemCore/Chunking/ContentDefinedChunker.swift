/// FastCDC with normalized chunking (level 2), as a resumable value.
///
/// Feed it any split of a stream with ``findBoundary(in:)``: it keeps only the length of the
/// current chunk and the rolling hash, so the cut points are the same however the bytes arrive
/// (the property PBS tests). The hash is Gear's `h = (h << 1) + gear[byte]`. While the chunk is
/// no longer than the average, a stricter mask (2 more bits) makes cuts rarer; past it a looser
/// mask (2 fewer bits) makes them likelier, which narrows the size distribution. Nothing is hashed
/// below the minimum (the hash restarts from 0 there); a chunk that reaches the maximum is cut.
public struct ContentDefinedChunker: Sendable {
    public let minimum: Int
    public let average: Int
    public let maximum: Int
    private let gear: [UInt64]
    private let strictMask: UInt64
    private let looseMask: UInt64
    private var position = 0
    private var hash: UInt64 = 0
    /// The hash once the last 64 bytes were zeros (older bytes are shifted out), which further
    /// zeros leave unchanged. A scan that reaches it without a cut can jump over the zeros that
    /// follow at memory speed: each would give the same hash under the same mask. A sparse or
    /// half-empty disk image is mostly such runs (on image-v1, 30% of its bytes and of the
    /// chunker's time).
    private let zeroRunHash: UInt64

    /// Creates a chunker; `minimum < average < maximum`, average a power of two (see ``ChunkerParameters``).
    public init(minimum: Int, average: Int, maximum: Int, gear: GearTable) {
        precondition(0 < minimum && minimum < average && average < maximum && average & (average - 1) == 0)
        self.minimum = minimum
        self.average = average
        self.maximum = maximum
        self.gear = gear.values
        let bits = average.trailingZeroBitCount
        // The highest bits of a Gear hash depend on the most recent bytes; test those.
        strictMask = Self.topBits(bits + 2)
        looseMask = Self.topBits(max(bits - 2, 1))
        zeroRunHash = Self.zeroRunHash(gearOfZero: gear.values[0])
    }

    /// The hash after 64 zero bytes, whatever came before: the sum of gear[0] shifted 0...63 bits.
    public static func zeroRunHash(gearOfZero: UInt64) -> UInt64 {
        (0..<64).reduce(UInt64(0)) { sum, shift in sum &+ (gearOfZero &<< UInt64(shift)) }
    }

    private static func topBits(_ count: Int) -> UInt64 {
        count >= 64 ? ~0 : ((1 << UInt64(count)) - 1) << UInt64(64 - count)
    }

    /// Bytes of the current (unfinished) chunk seen so far.
    public var pendingLength: Int { position }

    /// Scans `buffer`, which continues the stream. Returns how many of its bytes end the current
    /// chunk (the chunker then starts a new one), or nil when every byte was consumed without a cut.
    public mutating func findBoundary(in buffer: UnsafeRawBufferPointer) -> Int? {
        let count = buffer.count
        guard count > 0, let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let start = position
        var i = 0
        if start < minimum {
            i = min(minimum - start, count)
            if i == count {
                position = start + count
                return nil
            }
        }
        // After byte j of this buffer the chunk is `start + j + 1` bytes long.
        var h = hash
        let strict = strictMask, loose = looseMask, zero = zeroRunHash
        let cut: Int? = gear.withUnsafeBufferPointer { table -> Int? in
            let g = table.baseAddress!
            let strictEnd = min(max(average &- start, i), count)
            if let cut = Self.scan(base, g, &i, to: strictEnd, hash: &h, mask: strict, zeroRunHash: zero) { return cut }
            let forcedCut = maximum &- start
            let looseEnd = min(max(forcedCut &- 1, i), count)
            if let cut = Self.scan(base, g, &i, to: looseEnd, hash: &h, mask: loose, zeroRunHash: zero) { return cut }
            return forcedCut <= count ? forcedCut : nil
        }
        if let cut {
            position = 0
            hash = 0
            return cut
        }
        position = start + count
        hash = h
        return nil
    }

    /// Hashes bytes `i..<end`, returning the first cut (`mask` bits of the hash all zero), or nil
    /// with `i == end`. Two bytes per step on a short dependency chain: the hash after both bytes
    /// is h·4 + (2·gear[a] + gear[b]), the middle one (for its own test) branches off it. The
    /// same cuts as one byte at a time. Every 4 KiB it looks for a run of zeros to jump over
    /// (see ``zeroRunHash``).
    @inline(__always)
    private static func scan(_ base: UnsafePointer<UInt8>, _ g: UnsafePointer<UInt64>, _ i: inout Int, to end: Int,
                             hash h: inout UInt64, mask: UInt64, zeroRunHash: UInt64) -> Int? {
        while i < end {
            let blockEnd = min(end, i &+ 4096)
            while i &+ 1 < blockEnd {
                let a = g[Int(base[i])], b = g[Int(base[i &+ 1])]
                let middle = (h &<< 1) &+ a
                h = (h &<< 2) &+ ((a &<< 1) &+ b)
                if middle & mask == 0 { return i &+ 1 }
                if h & mask == 0 { return i &+ 2 }
                i &+= 2
            }
            if i < blockEnd {
                h = (h &<< 1) &+ g[Int(base[i])]
                i &+= 1
                if h & mask == 0 { return i }
            }
            // No cut at i with this hash, so none at the zeros after it either.
            if h == zeroRunHash { i = zeroRunEnd(base, from: i, to: end) }
        }
        return nil
    }

    /// The first index in `from..<end` whose byte is not zero, or `end`.
    @inline(__always)
    private static func zeroRunEnd(_ base: UnsafePointer<UInt8>, from: Int, to end: Int) -> Int {
        var i = from
        let raw = UnsafeRawPointer(base)
        while i &+ 32 <= end {
            let w0 = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self), w1 = raw.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
            let w2 = raw.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self), w3 = raw.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)
            if (w0 | w1 | w2 | w3) != 0 { break }
            i &+= 32
        }
        while i < end, base[i] == 0 { i &+= 1 }
        return i
    }

    /// Forgets the unfinished chunk (at the end of one file, before the next).
    public mutating func reset() {
        position = 0
        hash = 0
    }
}

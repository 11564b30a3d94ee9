import TandemCodecs

/// The 256 random 64-bit values FastCDC's rolling hash adds per input byte.
///
/// Derived from a per-tenant secret seed (SHA-256 of seed || counter), so the cut points, and with
/// them the chunk sizes an observer could see, differ between tenants and reveal nothing.
public struct GearTable: Sendable, Equatable {
    /// The table entries, indexed by byte value.
    public let values: [UInt64]

    /// Expands `seed` into 256 entries: entry i is the first 8 bytes (big-endian) of
    /// SHA-256(seed || u32be(i / 4)) at offset 8 * (i % 4).
    public init(seed: [UInt8]) {
        var values = [UInt64]()
        values.reserveCapacity(256)
        let hasher = Hasher256(.sha256)
        for block in 0..<64 {
            hasher.update(seed)
            hasher.update([UInt8(block >> 24 & 0xff), UInt8(block >> 16 & 0xff), UInt8(block >> 8 & 0xff), UInt8(block & 0xff)])
            let digest = hasher.finalize()
            for lane in 0..<4 {
                var value: UInt64 = 0
                for byte in digest[lane * 8 ..< lane * 8 + 8] { value = value << 8 | UInt64(byte) }
                values.append(value)
            }
        }
        self.values = values
    }
}

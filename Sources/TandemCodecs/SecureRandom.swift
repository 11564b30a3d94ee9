import CLibCrypto

/// Cryptographically secure random bytes from OpenSSL's `RAND_bytes`.
///
/// A failure of the CSPRNG is treated as fatal (the process traps): no
/// caller can do anything safe with a missing nonce or key.
public enum SecureRandom {
    /// Returns `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: negative count")
        return [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            fill(UnsafeMutableRawBufferPointer(buf))
            initialized = count
        }
    }

    /// Fills `buf` with random bytes.
    public static func fill(_ buf: UnsafeMutableRawBufferPointer) {
        guard var p = buf.baseAddress else { return }
        var remaining = buf.count
        while remaining > 0 {
            let n = Swift.min(remaining, Int(Int32.max))
            guard RAND_bytes(p.assumingMemoryBound(to: UInt8.self), Int32(n)) == 1 else {
                libcryptoFatal("RAND_bytes failed")
            }
            p += n
            remaining -= n
        }
    }
}

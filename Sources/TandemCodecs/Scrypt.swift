import CLibCrypto

/// scrypt password-based key derivation (RFC 7914) via `EVP_KDF` "SCRYPT".
public enum Scrypt {
    /// Default ceiling on the memory scrypt may use: 2 GiB, enough for
    /// N = 2^20, r = 8 (1 GiB) and comfortably for N = 2^17, r = 8 (128 MiB).
    public static let defaultMaxMemory = 2 << 30

    /// Memory scrypt needs for the given parameters (128·r·(N + p + 2) bytes),
    /// or nil on overflow.
    public static func requiredMemory(n: UInt64, r: UInt64, p: UInt64) -> Int? {
        let (np, o1) = n.addingReportingOverflow(p)
        let (np2, o2) = np.addingReportingOverflow(2)
        let (r128, o3) = r.multipliedReportingOverflow(by: 128)
        let (total, o4) = r128.multipliedReportingOverflow(by: np2)
        guard !(o1 || o2 || o3 || o4), total <= UInt64(Int.max) else { return nil }
        return Int(total)
    }

    /// Derives `count` bytes from `passphrase` and `salt`.
    ///
    /// - Parameters:
    ///   - n: CPU/memory cost, a power of two greater than 1.
    ///   - r: block size (fits in 32 bits).
    ///   - p: parallelisation (fits in 32 bits).
    ///   - count: output length in bytes (> 0).
    ///   - maxMemory: refuse parameters needing more memory than this.
    /// - Throws: ``CodecError/invalidArgument(_:)``,
    ///   ``CodecError/sizeLimitExceeded(limit:)`` when the parameters need more
    ///   than `maxMemory`, or ``CodecError/libcrypto(_:)``.
    public static func derive(
        passphrase: [UInt8],
        salt: [UInt8],
        n: UInt64,
        r: UInt64,
        p: UInt64,
        count: Int,
        maxMemory: Int = defaultMaxMemory
    ) throws -> SecretKey {
        guard n > 1, n & (n - 1) == 0 else {
            throw CodecError.invalidArgument("scrypt N must be a power of two > 1, got \(n)")
        }
        guard r > 0, p > 0, r <= UInt64(UInt32.max), p <= UInt64(UInt32.max) else {
            throw CodecError.invalidArgument("scrypt r and p must be in 1...2^32-1")
        }
        guard count > 0 else {
            throw CodecError.invalidArgument("scrypt output length must be positive")
        }
        guard let needed = requiredMemory(n: n, r: r, p: p), needed <= maxMemory else {
            throw CodecError.sizeLimitExceeded(limit: maxMemory)
        }
        // OpenSSL checks its own estimate against maxmem; leave headroom.
        let maxmem = UInt64(needed) + (1 << 20)
        return try SecretKey(count: count) { out in
            let rc = passphrase.withUnsafeBufferPointer { pw in
                salt.withUnsafeBufferPointer { s in
                    tandem_scrypt(
                        FetchedAlgorithms.scrypt,
                        pw.baseAddress, pw.count, s.baseAddress, s.count,
                        n, UInt32(r), UInt32(p), maxmem,
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count)
                }
            }
            guard rc == 1 else { throw CodecError.libcryptoError("scrypt derive") }
        }
    }
}

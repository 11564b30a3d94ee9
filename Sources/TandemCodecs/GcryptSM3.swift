import CGcrypt

/// SM3 (GB/T 32905-2016) and HMAC-SM3 (GB/T 15852.2-2012 with SM3) straight through libgcrypt,
/// for the standards' test vectors. Tandem's own code reaches the same handles through
/// ``Hasher256`` and ``KeyedHash``, which pick libgcrypt for SM3.
///
/// One object per task (not `Sendable`): the handle is reused for every message, the key of an
/// HMAC installed once.
public final class GcryptSM3 {
    /// Digest and MAC length in bytes.
    public static let outputSize = 32
    private let handle: gcry_md_hd_t

    /// Plain SM3, or HMAC-SM3 keyed with `key`.
    public init(key: SecretKey? = nil) throws {
        handle = try Gcrypt.openHash(.sm3, key: key)
    }

    deinit { gcry_md_close(handle) }

    /// The digest (or MAC) of `message`; the handle is reset for the next one.
    public func hash(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        update(message)
        return finish()
    }

    public func hash(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { hash($0) } }

    /// Absorbs part of a message.
    public func update(_ part: UnsafeRawBufferPointer) {
        if let base = part.baseAddress, part.count > 0 { gcry_md_write(handle, base, part.count) }
    }

    /// The digest of what was absorbed since the last one; resets the handle.
    public func finish() -> [UInt8] {
        let digest = Array(UnsafeBufferPointer(start: tandem_gcry_md_digest(handle, DigestAlgorithm.sm3.gcryptAlgorithm), count: Self.outputSize))
        gcry_md_reset(handle)
        return digest
    }
}

import CGcrypt

/// SM3 (GB/T 32905-2016) and HMAC-SM3 (GB/T 15852.2-2012 with SM3) through libgcrypt.
///
/// One object per task (not `Sendable`): the handle is reused for every message, the key of an
/// HMAC installed once.
public final class GcryptSM3 {
    /// Digest and MAC length in bytes.
    public static let outputSize = 32
    private let handle: gcry_md_hd_t

    /// Plain SM3, or HMAC-SM3 keyed with `key`.
    public init(key: SecretKey? = nil) throws {
        try Gcrypt.ready()
        var opened: gcry_md_hd_t?
        let flags = key == nil ? 0 : UInt32(GCRY_MD_FLAG_HMAC.rawValue)
        let status = gcry_md_open(&opened, Int32(GCRY_MD_SM3.rawValue), flags)
        guard status == 0, let opened else { throw Gcrypt.failure("SM3 open", status) }
        handle = opened
        if let key {
            let keyed = key.withUnsafeBytes { gcry_md_setkey(handle, $0.baseAddress, $0.count) }
            guard keyed == 0 else {
                gcry_md_close(handle)
                throw Gcrypt.failure("HMAC-SM3 key", keyed)
            }
        }
    }

    deinit { gcry_md_close(handle) }

    /// The digest (or MAC) of `message`; the handle is reset for the next one.
    public func hash(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        if let base = message.baseAddress, message.count > 0 { gcry_md_write(handle, base, message.count) }
        return finish()
    }

    public func hash(_ message: [UInt8]) -> [UInt8] { message.withUnsafeBytes { hash($0) } }

    /// Absorbs part of a message.
    public func update(_ part: UnsafeRawBufferPointer) {
        if let base = part.baseAddress, part.count > 0 { gcry_md_write(handle, base, part.count) }
    }

    /// The digest of what was absorbed since the last one; resets the handle.
    public func finish() -> [UInt8] {
        let digest = Array(UnsafeBufferPointer(start: tandem_gcry_md_digest(handle, Int32(GCRY_MD_SM3.rawValue)), count: Self.outputSize))
        gcry_md_reset(handle)
        return digest
    }
}

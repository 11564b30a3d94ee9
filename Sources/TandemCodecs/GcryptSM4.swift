import CGcrypt

/// SM4 (GB/T 32907-2016) through libgcrypt: ECB for single blocks (test vectors), CTR, and
/// GCM (GB/T 36624-2018, the construction RFC 8998 uses). One object per task.
public final class GcryptSM4 {
    public enum Mode: Sendable {
        case ecb, ctr, gcm
        var gcrypt: Int32 {
            switch self {
            case .ecb: Int32(GCRY_CIPHER_MODE_ECB.rawValue)
            case .ctr: Int32(GCRY_CIPHER_MODE_CTR.rawValue)
            case .gcm: Int32(GCRY_CIPHER_MODE_GCM.rawValue)
            }
        }
    }

    public static let keySize = 16
    public static let blockSize = 16
    public static let gcmTagSize = 16
    public let mode: Mode
    private let handle: gcry_cipher_hd_t

    public init(key: SecretKey, mode: Mode) throws {
        try Gcrypt.ready()
        guard key.count == Self.keySize else { throw CodecError.invalidKeyLength(expected: Self.keySize, got: key.count) }
        var opened: gcry_cipher_hd_t?
        let status = gcry_cipher_open(&opened, Int32(GCRY_CIPHER_SM4.rawValue), mode.gcrypt, 0)
        guard status == 0, let opened else { throw Gcrypt.failure("SM4 open", status) }
        handle = opened
        self.mode = mode
        let keyed = key.withUnsafeBytes { gcry_cipher_setkey(handle, $0.baseAddress, $0.count) }
        guard keyed == 0 else {
            gcry_cipher_close(handle)
            throw Gcrypt.failure("SM4 key", keyed)
        }
    }

    /// gcry_cipher_close wipes the key schedule.
    deinit { gcry_cipher_close(handle) }

    /// Encrypts whole blocks in ECB (for the standards' test vectors; never for data).
    public func encryptECB(_ blocks: [UInt8]) throws -> [UInt8] {
        precondition(mode == .ecb && blocks.count % Self.blockSize == 0)
        return try transform(blocks, encrypt: true)
    }

    /// SM4-CTR of `input` from the 16-byte counter block `counter` (encryption and decryption alike).
    public func ctr(_ input: UnsafeRawBufferPointer, counter: [UInt8]) throws -> [UInt8] {
        precondition(mode == .ctr && counter.count == Self.blockSize)
        let set = counter.withUnsafeBytes { gcry_cipher_setctr(handle, $0.baseAddress, $0.count) }
        guard set == 0 else { throw Gcrypt.failure("SM4-CTR counter", set) }
        return try transform(input, encrypt: true)
    }

    /// SM4-GCM: `ciphertext || tag (16)` of `plaintext` under `nonce` (12 bytes) with
    /// `associatedData` authenticated.
    public func sealGCM(_ plaintext: UnsafeRawBufferPointer, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        try startGCM(nonce: nonce, associatedData: associatedData)
        var out = try transform(plaintext, encrypt: true)
        var tag = [UInt8](repeating: 0, count: Self.gcmTagSize)
        let got = gcry_cipher_gettag(handle, &tag, tag.count)
        guard got == 0 else { throw Gcrypt.failure("SM4-GCM tag", got) }
        out += tag
        return out
    }

    /// Checks the tag of `sealed` (`ciphertext || tag`), then returns the plaintext; nothing of
    /// a message that fails authentication is returned.
    public func openGCM(_ sealed: UnsafeRawBufferPointer, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= Self.gcmTagSize else { throw CodecError.truncatedInput("SM4-GCM message of \(sealed.count) bytes") }
        try startGCM(nonce: nonce, associatedData: associatedData)
        let body = UnsafeRawBufferPointer(rebasing: sealed[..<(sealed.count - Self.gcmTagSize)])
        var plain = try transform(body, encrypt: false)
        let tag = UnsafeRawBufferPointer(rebasing: sealed[(sealed.count - Self.gcmTagSize)...])
        guard gcry_cipher_checktag(handle, tag.baseAddress, tag.count) == 0 else {
            for index in plain.indices { plain[index] = 0 }
            throw CodecError.authenticationFailed
        }
        return plain
    }

    private func startGCM(nonce: [UInt8], associatedData: [UInt8]) throws {
        precondition(mode == .gcm)
        guard nonce.count == 12 else { throw CodecError.invalidArgument("SM4-GCM nonce must be 12 bytes, got \(nonce.count)") }
        let reset = gcry_cipher_ctl(handle, Int32(GCRYCTL_RESET.rawValue), nil, 0)
        guard reset == 0 else { throw Gcrypt.failure("SM4-GCM reset", reset) }
        let set = nonce.withUnsafeBytes { gcry_cipher_setiv(handle, $0.baseAddress, $0.count) }
        guard set == 0 else { throw Gcrypt.failure("SM4-GCM nonce", set) }
        let authenticated = associatedData.withUnsafeBytes { gcry_cipher_authenticate(handle, $0.baseAddress, $0.count) }
        guard authenticated == 0 else { throw Gcrypt.failure("SM4-GCM associated data", authenticated) }
    }

    private func transform(_ input: [UInt8], encrypt: Bool) throws -> [UInt8] {
        try input.withUnsafeBytes { try transform($0, encrypt: encrypt) }
    }

    private func transform(_ input: UnsafeRawBufferPointer, encrypt: Bool) throws -> [UInt8] {
        guard input.count > 0 else { return [] }
        return try [UInt8](unsafeUninitializedCapacity: input.count) { out, count in
            let status = encrypt
                ? gcry_cipher_encrypt(handle, out.baseAddress, input.count, input.baseAddress, input.count)
                : gcry_cipher_decrypt(handle, out.baseAddress, input.count, input.baseAddress, input.count)
            guard status == 0 else { throw Gcrypt.failure(encrypt ? "SM4 encrypt" : "SM4 decrypt", status) }
            count = input.count
        }
    }
}

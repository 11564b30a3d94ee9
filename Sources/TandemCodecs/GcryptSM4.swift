import CGcrypt

/// SM4 (GB/T 32907-2016) through libgcrypt: ECB for single blocks (test vectors), CTR, and
/// GCM (GB/T 36624-2018, the construction RFC 8998 uses). One object per task (not
/// `Sendable`): the handle holds the key schedule and the mode's running state.
public final class GcryptSM4 {
    /// The block cipher mode a handle runs.
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
    public static let gcmNonceSize = 12
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
        precondition(counter.count == Self.blockSize)
        return try counter.withUnsafeBytes { block in
            try [UInt8](unsafeUninitializedCapacity: input.count) { out, count in
                try ctr(input, counter: block.baseAddress!, into: out.baseAddress)
                count = input.count
            }
        }
    }

    /// SM4-CTR of `input` into `out` (`input.count` bytes) from the 16-byte block at `counter`.
    func ctr(_ input: UnsafeRawBufferPointer, counter: UnsafeRawPointer, into out: UnsafeMutablePointer<UInt8>?) throws {
        precondition(mode == .ctr)
        let set = gcry_cipher_setctr(handle, counter, Self.blockSize)
        guard set == 0 else { throw Gcrypt.failure("SM4-CTR counter", set) }
        try run(input, into: out, encrypt: true)
    }

    /// SM4-GCM: `ciphertext || tag (16)` of `plaintext` under `nonce` (12 bytes) with
    /// `associatedData` authenticated.
    public func sealGCM(_ plaintext: UnsafeRawBufferPointer, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        guard nonce.count == Self.gcmNonceSize else { throw CodecError.invalidArgument("SM4-GCM nonce must be 12 bytes, got \(nonce.count)") }
        return try nonce.withUnsafeBytes { n in
            try [UInt8](unsafeUninitializedCapacity: plaintext.count + Self.gcmTagSize) { out, count in
                try sealGCM(plaintext, nonce: n.baseAddress!, associatedData: associatedData, into: out.baseAddress!)
                count = plaintext.count + Self.gcmTagSize
            }
        }
    }

    /// SM4-GCM of `plaintext` into `out`: the ciphertext (`plaintext.count` bytes), then the tag.
    func sealGCM(_ plaintext: UnsafeRawBufferPointer, nonce: UnsafeRawPointer, associatedData: [UInt8],
                 into out: UnsafeMutablePointer<UInt8>) throws {
        try startGCM(nonce: nonce, associatedData: associatedData)
        try run(plaintext, into: out, encrypt: true)
        let got = gcry_cipher_gettag(handle, out + plaintext.count, Self.gcmTagSize)
        guard got == 0 else { throw Gcrypt.failure("SM4-GCM tag", got) }
    }

    /// Checks the tag of `sealed` (`ciphertext || tag`), then returns the plaintext; nothing of
    /// a message that fails authentication is returned.
    public func openGCM(_ sealed: UnsafeRawBufferPointer, nonce: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        guard nonce.count == Self.gcmNonceSize else { throw CodecError.invalidArgument("SM4-GCM nonce must be 12 bytes, got \(nonce.count)") }
        return try nonce.withUnsafeBytes { try openGCM(sealed, nonce: $0.baseAddress!, associatedData: associatedData) }
    }

    /// ``openGCM(_:nonce:associatedData:)`` with the nonce read from memory.
    func openGCM(_ sealed: UnsafeRawBufferPointer, nonce: UnsafeRawPointer, associatedData: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= Self.gcmTagSize else { throw CodecError.truncatedInput("SM4-GCM message of \(sealed.count) bytes") }
        try startGCM(nonce: nonce, associatedData: associatedData)
        let length = sealed.count - Self.gcmTagSize
        let body = UnsafeRawBufferPointer(rebasing: sealed[..<length])
        var plain = try [UInt8](unsafeUninitializedCapacity: length) { out, count in
            try run(body, into: out.baseAddress, encrypt: false)
            count = length
        }
        guard gcry_cipher_checktag(handle, sealed.baseAddress! + length, Self.gcmTagSize) == 0 else {
            plain.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
            throw CodecError.authenticationFailed
        }
        return plain
    }

    private func startGCM(nonce: UnsafeRawPointer, associatedData: [UInt8]) throws {
        precondition(mode == .gcm)
        let reset = gcry_cipher_ctl(handle, Int32(GCRYCTL_RESET.rawValue), nil, 0)
        guard reset == 0 else { throw Gcrypt.failure("SM4-GCM reset", reset) }
        let set = gcry_cipher_setiv(handle, nonce, Self.gcmNonceSize)
        guard set == 0 else { throw Gcrypt.failure("SM4-GCM nonce", set) }
        let authenticated = associatedData.withUnsafeBytes { gcry_cipher_authenticate(handle, $0.baseAddress, $0.count) }
        guard authenticated == 0 else { throw Gcrypt.failure("SM4-GCM associated data", authenticated) }
    }

    private func transform(_ input: [UInt8], encrypt: Bool) throws -> [UInt8] {
        try input.withUnsafeBytes { raw in
            try [UInt8](unsafeUninitializedCapacity: raw.count) { out, count in
                try run(raw, into: out.baseAddress, encrypt: encrypt)
                count = raw.count
            }
        }
    }

    /// One encrypt or decrypt call over all of `input` into `out`.
    private func run(_ input: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>?, encrypt: Bool) throws {
        guard input.count > 0, let out else { return }
        let status = encrypt
            ? gcry_cipher_encrypt(handle, out, input.count, input.baseAddress, input.count)
            : gcry_cipher_decrypt(handle, out, input.count, input.baseAddress, input.count)
        guard status == 0 else { throw Gcrypt.failure(encrypt ? "SM4 encrypt" : "SM4 decrypt", status) }
    }
}

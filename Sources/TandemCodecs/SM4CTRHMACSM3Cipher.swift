import CLibCrypto

/// SM4-CTR + HMAC-SM3, encrypt-then-MAC: the blob cipher of the `sm4ctr` suite (Tandem's first
/// SM suite, built when the project ran SM4 on OpenSSL 3.0, which has no SM4-GCM). New SM
/// tenants get ``SM4GCMCipher``; this one keeps their repositories readable and writable.
///
/// Sealed format: `iv (16, random) || SM4-CTR ciphertext || tag (32)`, where
/// `tag = HMAC-SM3(macKey, u64be(len(aad)) || aad || iv || ciphertext)`.
/// ``overhead`` is 48. ``open(_:associatedData:)`` verifies the tag in
/// constant time before any decryption happens.
///
/// The CTR counter is the full 128-bit IV block, incremented per block, so
/// random IVs are safe for far more messages than GCM's 96-bit nonces.
/// libgcrypt computes both halves (``CryptoLibrary/preferred(for:)``); the OpenSSL form is kept
/// so tests can prove the two produce the same bytes.
/// Not `Sendable`: create one instance per task.
public final class SM4CTRHMACSM3Cipher: AEADCipher {
    /// SM4 key length in bytes.
    public static let encryptionKeySize = 16
    /// HMAC-SM3 key length in bytes.
    public static let macKeySize = 32
    /// IV length in bytes.
    public static let ivSize = 16
    /// Tag length in bytes.
    public static let tagSize = 32
    /// `ivSize + tagSize` = 48.
    public static var overhead: Int { ivSize + tagSize }

    /// The library that computes SM4-CTR and HMAC-SM3.
    public let library: CryptoLibrary
    private let engine: Engine
    private let mac: KeyedHash

    private enum Engine {
        case openssl(OpaquePointer)
        case libgcrypt(GcryptSM4)
    }
    /// Number of CTR decryptions performed by ``open(_:associatedData:)``;
    /// lets tests prove that a bad tag is rejected before decrypting.
    private(set) var decryptionCount = 0

    /// Creates a cipher from independent 16-byte encryption and 32-byte MAC keys.
    /// - Throws: ``CodecError/invalidKeyLength(expected:got:)``.
    public init(encryptionKey: SecretKey, macKey: SecretKey, library: CryptoLibrary = .libgcrypt) throws {
        guard encryptionKey.count == Self.encryptionKeySize else {
            throw CodecError.invalidKeyLength(expected: Self.encryptionKeySize, got: encryptionKey.count)
        }
        guard macKey.count == Self.macKeySize else {
            throw CodecError.invalidKeyLength(expected: Self.macKeySize, got: macKey.count)
        }
        self.library = library
        switch library {
        case .libgcrypt:
            engine = .libgcrypt(try GcryptSM4(key: encryptionKey, mode: .ctr))
        case .openssl:
            guard let c = EVP_CIPHER_CTX_new() else { libcryptoFatal("EVP_CIPHER_CTX_new") }
            let ok = encryptionKey.withUnsafeBytes {
                EVP_EncryptInit_ex2(c, FetchedAlgorithms.sm4CTR, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), nil, nil)
            }
            guard ok == 1 else {
                EVP_CIPHER_CTX_free(c)
                throw CodecError.libcryptoError("SM4-CTR key setup")
            }
            engine = .openssl(c)
        }
        mac = KeyedHash(.sm3, key: macKey, library: library)
    }

    deinit {
        if case .openssl(let ctx) = engine { EVP_CIPHER_CTX_free(ctx) }
    }

    /// SM4-CTR transform (encryption and decryption are the same operation).
    /// `out` must hold `input.count` bytes.
    private func ctr(iv: UnsafePointer<UInt8>, input: UnsafeRawBufferPointer, out: UnsafeMutablePointer<UInt8>?) throws {
        let ctx: OpaquePointer
        switch engine {
        case .libgcrypt(let sm4):
            try sm4.ctr(input, counter: iv, into: out)
            return
        case .openssl(let context):
            ctx = context
        }
        guard EVP_EncryptInit_ex2(ctx, nil, nil, iv, nil) == 1,
            let written = evpCipherUpdate(ctx, encrypt: true, out: out, input: input)
        else { throw CodecError.libcryptoError("SM4-CTR update") }
        var finalLen: Int32 = 0
        let finalOK = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { scratch in
            EVP_EncryptFinal_ex(ctx, scratch.baseAddress, &finalLen) == 1
        }
        guard finalOK, written + Int(finalLen) == input.count, finalLen == 0 else {
            throw CodecError.libcryptoError("SM4-CTR final")
        }
    }

    /// Absorbs `u64be(len(aad)) || aad || ivAndCiphertext` into the MAC.
    private func absorbAuthenticatedData(_ associatedData: [UInt8], _ ivAndCiphertext: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(byteCount: 8, alignment: 8) { len in
            storeUInt64BE(UInt64(associatedData.count), into: len.baseAddress!)
            mac.begin()
            mac.update(UnsafeRawBufferPointer(len))
        }
        associatedData.withUnsafeBytes { mac.update($0) }
        mac.update(ivAndCiphertext)
    }

    /// Seals `plaintext` under a fresh random IV.
    public func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8] {
        try seal(plaintext, associatedData: associatedData, fixedIV: nil)
    }

    public func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], after prefix: [UInt8]) throws -> [UInt8] {
        try seal(plaintext, associatedData: associatedData, fixedIV: nil, prefix: prefix)
    }

    /// Test hook: seals with a caller-chosen 16-byte IV.
    func seal(_ plaintext: [UInt8], associatedData: [UInt8], iv: [UInt8]) throws -> [UInt8] {
        precondition(iv.count == Self.ivSize, "SM4-CTR IV must be 16 bytes")
        return try plaintext.withUnsafeBytes { try seal($0, associatedData: associatedData, fixedIV: iv) }
    }

    private func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], fixedIV: [UInt8]?,
                      prefix: [UInt8] = []) throws -> [UInt8] {
        let n = plaintext.count
        let total = prefix.count + Self.overhead + n
        return try [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            prefix.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
            let base = out.baseAddress! + prefix.count
            if let fixedIV {
                fixedIV.withUnsafeBytes { UnsafeMutableRawPointer(base).copyMemory(from: $0.baseAddress!, byteCount: Self.ivSize) }
            } else {
                SecureRandom.fill(UnsafeMutableRawBufferPointer(start: base, count: Self.ivSize))
            }
            try ctr(iv: base, input: plaintext, out: base + Self.ivSize)
            absorbAuthenticatedData(associatedData, UnsafeRawBufferPointer(start: base, count: Self.ivSize + n))
            mac.finish(into: UnsafeMutableRawBufferPointer(start: base + Self.ivSize + n, count: Self.tagSize))
            initialized = total
        }
    }

    /// Verifies the HMAC-SM3 tag (constant time), then decrypts.
    public func open(_ sealed: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= Self.overhead else {
            throw CodecError.truncatedInput(
                "SM4-CTR+HMAC-SM3 message is \(sealed.count) bytes, minimum \(Self.overhead)")
        }
        let n = sealed.count - Self.overhead
        let base = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        absorbAuthenticatedData(associatedData, UnsafeRawBufferPointer(start: base, count: Self.ivSize + n))
        let authentic = withUnsafeTemporaryAllocation(byteCount: Self.tagSize, alignment: 1) { expected in
            mac.finish(into: expected)
            let tag = UnsafeRawBufferPointer(start: base + Self.ivSize + n, count: Self.tagSize)
            let ok = constantTimeEquals(UnsafeRawBufferPointer(expected), tag)
            OPENSSL_cleanse(expected.baseAddress, Self.tagSize)
            return ok
        }
        guard authentic else { throw CodecError.authenticationFailed }
        decryptionCount &+= 1
        let ciphertext = UnsafeRawBufferPointer(start: base + Self.ivSize, count: n)
        return try [UInt8](unsafeUninitializedCapacity: n) { out, initialized in
            try ctr(iv: base, input: ciphertext, out: out.baseAddress)
            initialized = n
        }
    }

    // MARK: - Test hooks

    /// Test hook: raw SM4-CTR of `input` under this cipher's key and `iv`.
    func ctrTransform(iv: [UInt8], _ input: [UInt8]) throws -> [UInt8] {
        precondition(iv.count == Self.ivSize)
        return try [UInt8](unsafeUninitializedCapacity: input.count) { out, initialized in
            try iv.withUnsafeBufferPointer { ivp in
                try input.withUnsafeBytes { try ctr(iv: ivp.baseAddress!, input: $0, out: out.baseAddress) }
            }
            initialized = input.count
        }
    }

    /// Test hook: SM4-ECB encryption of one 16-byte block (no padding).
    static func encryptBlockECB(key: [UInt8], block: [UInt8]) throws -> [UInt8] {
        precondition(key.count == 16 && block.count == 16)
        guard let c = EVP_CIPHER_CTX_new() else { libcryptoFatal("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(c) }
        guard EVP_EncryptInit_ex2(c, FetchedAlgorithms.sm4ECB, key, nil, nil) == 1,
            EVP_CIPHER_CTX_set_padding(c, 0) == 1
        else { throw CodecError.libcryptoError("SM4-ECB init") }
        var out = [UInt8](repeating: 0, count: 32)
        var l1: Int32 = 0
        var l2: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { o in
            EVP_EncryptUpdate(c, o.baseAddress, &l1, block, 16) == 1
                && EVP_EncryptFinal_ex(c, o.baseAddress! + Int(l1), &l2) == 1
        }
        guard ok, l1 + l2 == 16 else { throw CodecError.libcryptoError("SM4-ECB encrypt") }
        return Array(out.prefix(16))
    }
}

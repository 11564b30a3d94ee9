import CLibCrypto

/// AES-256-GCM with a random 96-bit nonce per message.
///
/// Sealed format: `nonce (12) || ciphertext || tag (16)`; ``overhead`` is 28.
/// The key schedule is computed once in ``init(key:)``; each message only
/// sets a new IV on the reused `EVP_CIPHER_CTX`s (one for sealing, one for
/// opening).
///
/// Random nonces are safe for up to about 2^32 messages per key; rotate keys
/// well before that. Not `Sendable`: create one instance per task.
public final class AES256GCMCipher: AEADCipher {
    /// Key length in bytes.
    public static let keySize = 32
    /// Nonce length in bytes.
    public static let nonceSize = 12
    /// Tag length in bytes.
    public static let tagSize = 16
    /// `nonceSize + tagSize` = 28.
    public static var overhead: Int { nonceSize + tagSize }

    private let sealCtx: OpaquePointer
    private let openCtx: OpaquePointer

    /// Creates a cipher for a 32-byte `key`.
    /// - Throws: ``CodecError/invalidKeyLength(expected:got:)``.
    public init(key: SecretKey) throws {
        guard key.count == Self.keySize else {
            throw CodecError.invalidKeyLength(expected: Self.keySize, got: key.count)
        }
        guard let s = EVP_CIPHER_CTX_new() else { libcryptoFatal("EVP_CIPHER_CTX_new") }
        guard let o = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(s)
            libcryptoFatal("EVP_CIPHER_CTX_new")
        }
        let ok = key.withUnsafeBytes { k -> Bool in
            let kp = k.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return EVP_EncryptInit_ex2(s, FetchedAlgorithms.aes256GCM, kp, nil, nil) == 1
                && EVP_DecryptInit_ex2(o, FetchedAlgorithms.aes256GCM, kp, nil, nil) == 1
        }
        guard ok else {
            EVP_CIPHER_CTX_free(s)
            EVP_CIPHER_CTX_free(o)
            throw CodecError.libcryptoError("AES-256-GCM key setup")
        }
        sealCtx = s
        openCtx = o
    }

    deinit {
        // EVP_CIPHER_CTX_free cleanses the key schedule.
        EVP_CIPHER_CTX_free(sealCtx)
        EVP_CIPHER_CTX_free(openCtx)
    }

    /// Seals `plaintext` under a fresh random nonce.
    public func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8] {
        try seal(plaintext, associatedData: associatedData, fixedNonce: nil)
    }

    public func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], after prefix: [UInt8]) throws -> [UInt8] {
        try seal(plaintext, associatedData: associatedData, fixedNonce: nil, prefix: prefix)
    }

    /// Test hook: seals with a caller-chosen nonce (12 bytes). Never use a
    /// fixed nonce in production: reuse under one key breaks GCM.
    func seal(_ plaintext: [UInt8], associatedData: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        precondition(nonce.count == Self.nonceSize, "GCM nonce must be 12 bytes")
        return try plaintext.withUnsafeBytes {
            try seal($0, associatedData: associatedData, fixedNonce: nonce)
        }
    }

    private func seal(
        _ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], fixedNonce: [UInt8]?, prefix: [UInt8] = []
    ) throws -> [UInt8] {
        let n = plaintext.count
        let total = prefix.count + Self.overhead + n
        return try [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            prefix.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
            let base = out.baseAddress! + prefix.count
            if let fixedNonce {
                fixedNonce.withUnsafeBytes { UnsafeMutableRawPointer(base).copyMemory(from: $0.baseAddress!, byteCount: Self.nonceSize) }
            } else {
                SecureRandom.fill(UnsafeMutableRawBufferPointer(start: base, count: Self.nonceSize))
            }
            let ct = base + Self.nonceSize
            guard EVP_EncryptInit_ex2(sealCtx, nil, nil, base, nil) == 1 else {
                throw CodecError.libcryptoError("AES-256-GCM seal init")
            }
            let aadOK = associatedData.withUnsafeBytes {
                evpCipherUpdate(sealCtx, encrypt: true, out: nil, input: $0) != nil
            }
            guard aadOK, let written = evpCipherUpdate(sealCtx, encrypt: true, out: ct, input: plaintext)
            else { throw CodecError.libcryptoError("AES-256-GCM seal update") }
            var finalLen: Int32 = 0
            guard EVP_EncryptFinal_ex(sealCtx, ct + written, &finalLen) == 1,
                written + Int(finalLen) == n
            else { throw CodecError.libcryptoError("AES-256-GCM seal final") }
            guard EVP_CIPHER_CTX_ctrl(sealCtx, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagSize), ct + n) == 1
            else { throw CodecError.libcryptoError("AES-256-GCM get tag") }
            initialized = total
        }
    }

    /// Verifies and decrypts `sealed`.
    public func open(_ sealed: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= Self.overhead else {
            throw CodecError.truncatedInput(
                "AES-256-GCM message is \(sealed.count) bytes, minimum \(Self.overhead)")
        }
        let n = sealed.count - Self.overhead
        let base = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let ciphertext = UnsafeRawBufferPointer(start: base + Self.nonceSize, count: n)
        return try [UInt8](unsafeUninitializedCapacity: n) { out, initialized in
            guard EVP_DecryptInit_ex2(openCtx, nil, nil, base, nil) == 1 else {
                throw CodecError.libcryptoError("AES-256-GCM open init")
            }
            let aadOK = associatedData.withUnsafeBytes {
                evpCipherUpdate(openCtx, encrypt: false, out: nil, input: $0) != nil
            }
            guard aadOK, let written = evpCipherUpdate(openCtx, encrypt: false, out: out.baseAddress, input: ciphertext)
            else { throw CodecError.libcryptoError("AES-256-GCM open update") }
            // SET_TAG takes a mutable pointer: copy the tag out of the read-only input.
            let tagOK = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.tagSize) { tag in
                _ = tag.initialize(from: UnsafeBufferPointer(start: base + Self.nonceSize + n, count: Self.tagSize))
                return EVP_CIPHER_CTX_ctrl(openCtx, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagSize), tag.baseAddress) == 1
            }
            guard tagOK else { throw CodecError.libcryptoError("AES-256-GCM set tag") }
            var finalLen: Int32 = 0
            let authentic = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { scratch in
                EVP_DecryptFinal_ex(openCtx, scratch.baseAddress, &finalLen) == 1
            }
            guard authentic, written == n, finalLen == 0 else {
                // Never release unauthenticated plaintext.
                if n > 0 { OPENSSL_cleanse(out.baseAddress, n) }
                ERR_clear_error()
                throw CodecError.authenticationFailed
            }
            initialized = n
        }
    }
}

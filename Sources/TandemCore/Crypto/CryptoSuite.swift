import TandemCodecs

/// The algorithms that protect one tenant's data.
///
/// | suite | chunk ID | blob AEAD | key derivation |
/// |---|---|---|---|
/// | `aes256gcm` | HMAC-SHA-256 | AES-256-GCM, 96-bit random nonce | HKDF-SHA-256 |
/// | `sm4` | HMAC-SM3 | SM4-CTR + HMAC-SM3, encrypt-then-MAC | HKDF-SM3 |
public enum CryptoSuite: String, Sendable, Codable, CaseIterable {
    case aes256gcm
    case sm4

    /// The hash behind chunk IDs, MACs and key derivation.
    public var digest: DigestAlgorithm {
        switch self {
        case .aes256gcm: .sha256
        case .sm4: .sm3
        }
    }

    /// Bytes of key material one cipher of this suite takes (SM4: 16 for the cipher, 32 for the MAC).
    public var cipherKeyLength: Int {
        switch self {
        case .aes256gcm: 32
        case .sm4: 48
        }
    }

    /// Bytes a sealed message has beyond its plaintext.
    public var overhead: Int {
        switch self {
        case .aes256gcm: AES256GCMCipher.overhead
        case .sm4: SM4CTRHMACSM3Cipher.overhead
        }
    }

    /// A fresh cipher (not shareable between tasks) keyed with `key` (``cipherKeyLength`` bytes).
    public func makeCipher(key: SecretKey) throws -> any AEADCipher {
        guard key.count == cipherKeyLength else {
            throw CodecError.invalidKeyLength(expected: cipherKeyLength, got: key.count)
        }
        switch self {
        case .aes256gcm:
            return try AES256GCMCipher(key: key)
        case .sm4:
            let parts = key.withUnsafeBytes { raw in (Array(raw[0..<16]), Array(raw[16..<48])) }
            return try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: parts.0), macKey: SecretKey(bytes: parts.1))
        }
    }
}

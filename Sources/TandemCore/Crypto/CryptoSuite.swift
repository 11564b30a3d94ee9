import TandemCodecs

/// The algorithms that protect one tenant's data, fixed when the tenant is created.
///
/// | suite | chunk ID | blob AEAD | subkeys | key slots (passphrase) |
/// |---|---|---|---|---|
/// | `aes256gcm` | HMAC-SHA-256 | AES-256-GCM, 96-bit random nonce | HKDF-SHA-256 | AES-256-GCM (scrypt) |
/// | `sm4gcm` | HMAC-SM3 | SM4-GCM, 96-bit random nonce | HKDF-SM3 | SM4-GCM (PBKDF2-HMAC-SM3) |
/// | `sm4ctr` | HMAC-SM3 | SM4-CTR + HMAC-SM3, encrypt-then-MAC | HKDF-SM3 | SM4-CTR + HMAC-SM3 (scrypt) |
///
/// `sm4gcm` is the GM/T suite: nothing but GM primitives protects its data and keys, and it is
/// what `sm4` names when a tenant is created. `sm4ctr` is Tandem's first SM suite, whose
/// tenants' settings say `"sm4"`; it stays readable, writable and selectable.
public enum CryptoSuite: String, Sendable, Codable, CaseIterable {
    case aes256gcm
    case sm4gcm
    /// Stored as `"sm4"`, the name it had before `sm4gcm` existed.
    case sm4ctr = "sm4"

    /// The name operators see and type.
    public var name: String {
        switch self {
        case .aes256gcm: "aes256gcm"
        case .sm4gcm: "sm4gcm"
        case .sm4ctr: "sm4ctr"
        }
    }

    /// What `--suite` and a policy's `suite:` accept: every suite's ``name``, and `sm4`, the GM
    /// suite new tenants should get (``sm4gcm``).
    public static let acceptedNames = ["aes256gcm", "sm4", "sm4gcm", "sm4ctr"]

    /// The suite an operator named (one of ``acceptedNames``).
    public init?(name: String) {
        switch name {
        case "aes256gcm": self = .aes256gcm
        case "sm4", "sm4gcm": self = .sm4gcm
        case "sm4ctr": self = .sm4ctr
        default: return nil
        }
    }

    /// The hash behind chunk IDs, MACs and key derivation.
    public var digest: DigestAlgorithm {
        switch self {
        case .aes256gcm: .sha256
        case .sm4gcm, .sm4ctr: .sm3
        }
    }

    /// Bytes of key material one cipher of this suite takes (SM4-CTR + HMAC-SM3: 16 for the
    /// cipher, 32 for the MAC).
    public var cipherKeyLength: Int {
        switch self {
        case .aes256gcm: 32
        case .sm4gcm: 16
        case .sm4ctr: 48
        }
    }

    /// Bytes a sealed message has beyond its plaintext.
    public var overhead: Int {
        switch self {
        case .aes256gcm: AES256GCMCipher.overhead
        case .sm4gcm: SM4GCMCipher.overhead
        case .sm4ctr: SM4CTRHMACSM3Cipher.overhead
        }
    }

    /// How a passphrase slot's key-encryption key is stretched for new slots.
    public var passphraseKDF: PassphraseKDF {
        switch self {
        case .aes256gcm, .sm4ctr: .scrypt
        case .sm4gcm: .pbkdf2HMACSM3
        }
    }

    /// The byte that names the suite in a manifest's header.
    public var manifestCode: UInt8 {
        switch self {
        case .aes256gcm: 1
        case .sm4ctr: 2
        case .sm4gcm: 3
        }
    }

    /// Fails with one line naming the suite and what is missing when this build's libraries
    /// cannot serve it (libgcrypt too old for SM4 and SM3).
    public func checkAvailable() throws {
        guard digest == .sm3 else { return }
        do {
            try Gcrypt.ready()
        } catch {
            throw CryptoSuiteUnavailable(suite: self, reason: "\(error)")
        }
    }

    /// A fresh cipher (not shareable between tasks) keyed with `key` (``cipherKeyLength`` bytes).
    public func makeCipher(key: SecretKey) throws -> any AEADCipher {
        guard key.count == cipherKeyLength else {
            throw CodecError.invalidKeyLength(expected: cipherKeyLength, got: key.count)
        }
        try checkAvailable()
        switch self {
        case .aes256gcm:
            return try AES256GCMCipher(key: key)
        case .sm4gcm:
            return try SM4GCMCipher(key: key)
        case .sm4ctr:
            let parts = key.withUnsafeBytes { raw in (Array(raw[0..<16]), Array(raw[16..<48])) }
            return try SM4CTRHMACSM3Cipher(encryptionKey: SecretKey(bytes: parts.0), macKey: SecretKey(bytes: parts.1))
        }
    }
}

/// How a passphrase is stretched into a key slot's key-encryption key.
public enum PassphraseKDF: String, Sendable, Codable {
    /// scrypt (RFC 7914): memory-hard; the default suite's.
    case scrypt
    /// PBKDF2 (RFC 8018) with HMAC-SM3: the GM suite's, so that an SM tenant's keys rest on GM
    /// primitives alone.
    case pbkdf2HMACSM3 = "pbkdf2-hmac-sm3"
}

/// A suite this build cannot serve.
public struct CryptoSuiteUnavailable: Error, CustomStringConvertible {
    public let suite: CryptoSuite
    public let reason: String
    public var description: String { "crypto suite \(suite.name) is unavailable: \(reason)" }
}

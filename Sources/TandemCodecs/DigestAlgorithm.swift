import CLibCrypto

/// The 256-bit hash functions supported by ``Hasher256``, ``KeyedHash`` and ``HKDF``.
public enum DigestAlgorithm: String, Sendable, CaseIterable {
    /// SHA-256 (FIPS 180-4).
    case sha256
    /// SM3 (GB/T 32905-2016).
    case sm3

    /// Digest length in bytes (32 for both algorithms).
    public var outputSize: Int { 32 }

    /// The OpenSSL algorithm name used for fetching.
    var opensslName: String {
        switch self {
        case .sha256: return "SHA256"
        case .sm3: return "SM3"
        }
    }

    /// The `EVP_MD` fetched once per process and reused by every context.
    var fetchedMD: OpaquePointer {
        switch self {
        case .sha256: return FetchedAlgorithms.sha256
        case .sm3: return FetchedAlgorithms.sm3
        }
    }
}

/// Process-wide OpenSSL algorithm objects, fetched lazily once and never
/// freed. Fetched `EVP_MD`/`EVP_CIPHER`/`EVP_MAC`/`EVP_KDF` objects are
/// immutable and reference counted, so sharing them between threads is safe;
/// the per-operation contexts are what must stay per task.
enum FetchedAlgorithms {
    nonisolated(unsafe) static let sha256: OpaquePointer = fetchMD("SHA256")
    nonisolated(unsafe) static let sm3: OpaquePointer = fetchMD("SM3")
    nonisolated(unsafe) static let aes256GCM: OpaquePointer = fetchCipher("AES-256-GCM")
    nonisolated(unsafe) static let sm4CTR: OpaquePointer = fetchCipher("SM4-CTR")
    nonisolated(unsafe) static let sm4ECB: OpaquePointer = fetchCipher("SM4-ECB")
    nonisolated(unsafe) static let hmac: OpaquePointer = {
        guard let m = EVP_MAC_fetch(nil, "HMAC", nil) else { libcryptoFatal("EVP_MAC_fetch(HMAC)") }
        return m
    }()
    nonisolated(unsafe) static let hkdf: OpaquePointer = fetchKDF("HKDF")
    nonisolated(unsafe) static let scrypt: OpaquePointer = fetchKDF("SCRYPT")

    private static func fetchMD(_ name: String) -> OpaquePointer {
        guard let md = EVP_MD_fetch(nil, name, nil) else { libcryptoFatal("EVP_MD_fetch(\(name))") }
        return md
    }

    private static func fetchCipher(_ name: String) -> OpaquePointer {
        guard let c = EVP_CIPHER_fetch(nil, name, nil) else {
            libcryptoFatal("EVP_CIPHER_fetch(\(name))")
        }
        return c
    }

    private static func fetchKDF(_ name: String) -> OpaquePointer {
        guard let k = EVP_KDF_fetch(nil, name, nil) else { libcryptoFatal("EVP_KDF_fetch(\(name))") }
        return k
    }
}

/// Which C library computes a primitive. Tandem runs SHA-256, AES and HMAC-SHA-256 on OpenSSL and
/// the GM/T primitives (SM3, HMAC-SM3, SM4) on libgcrypt, whose SM4 and SM3 use AES-NI/AVX2
/// where OpenSSL 3.0's are plain C. The other library stays selectable so that tests can
/// cross-check the two and `tandem-bench primitives` can show them side by side.
public enum CryptoLibrary: String, Sendable, CaseIterable {
    case openssl
    case libgcrypt

    /// The library Tandem uses for `algorithm`.
    public static func preferred(for algorithm: DigestAlgorithm) -> CryptoLibrary {
        switch algorithm {
        case .sha256: .openssl
        case .sm3: .libgcrypt
        }
    }
}

import CGcrypt

/// libgcrypt, initialized once per process before its first use. Tandem uses it for the GM/T
/// primitives (SM4, SM3, HMAC-SM3), whose OpenSSL 3.0 versions are plain C: libgcrypt 1.10 has
/// SM4 with AES-NI/AVX2 and SM3 with AVX/BMI2.
public enum Gcrypt {
    /// The oldest libgcrypt with SM4 in CTR and GCM and SM3 accelerated (Debian 12 ships 1.10.1).
    public static let minimumVersion = "1.10.0"

    /// The library's version; nil if the one loaded is older than ``minimumVersion``.
    public static let version: String? = tandem_gcrypt_initialize(minimumVersion).map { String(cString: $0) }

    /// Fails with a message naming what is missing when the library cannot serve.
    static func ready() throws {
        guard version != nil else {
            throw CodecError.invalidArgument("libgcrypt \(minimumVersion) or newer is needed for SM4 and SM3 (found \(String(cString: gcry_check_version(nil))))")
        }
    }

    /// An error of `code` (a gcry_error_t) with libgcrypt's words for it.
    static func failure(_ context: String, _ code: gcry_error_t) -> CodecError {
        .libcrypto("libgcrypt \(context): \(String(cString: gcry_strerror(code)))")
    }
}

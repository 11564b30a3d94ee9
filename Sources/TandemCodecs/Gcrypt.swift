import CGcrypt

/// libgcrypt, initialized once per process before its first use. Tandem uses it for the GM/T
/// primitives (SM4, SM3, HMAC-SM3, PBKDF2-HMAC-SM3), whose OpenSSL 3.0 versions are plain C:
/// libgcrypt 1.10 has SM4 with AES-NI/AVX2 and SM3 with AVX/BMI2.
public enum Gcrypt {
    /// The oldest libgcrypt with SM4 in CTR and GCM and SM3 accelerated (Debian 12 ships 1.10.1).
    public static let minimumVersion = "1.10.0"

    /// The library's version; nil if the one loaded is older than ``minimumVersion``.
    public static let version: String? = tandem_gcrypt_initialize(minimumVersion).map { String(cString: $0) }

    /// Fails with a message naming what is missing when the library cannot serve.
    public static func ready() throws {
        guard version != nil else {
            throw CodecError.invalidArgument("libgcrypt \(minimumVersion) or newer is needed for SM4 and SM3 (found \(String(cString: gcry_check_version(nil))))")
        }
    }

    /// An error of `code` (a gcry_error_t) with libgcrypt's words for it.
    static func failure(_ context: String, _ code: gcry_error_t) -> CodecError {
        .libcrypto("libgcrypt \(context): \(String(cString: gcry_strerror(code)))")
    }

    /// An open hash handle for `algorithm`, an HMAC one when `key` is given.
    static func openHash(_ algorithm: DigestAlgorithm, key: SecretKey?) throws -> gcry_md_hd_t {
        try ready()
        var opened: gcry_md_hd_t?
        let flags = key == nil ? 0 : UInt32(GCRY_MD_FLAG_HMAC.rawValue)
        let status = gcry_md_open(&opened, algorithm.gcryptAlgorithm, flags)
        guard status == 0, let opened else { throw failure("\(algorithm.opensslName) open", status) }
        if let key {
            let keyed = key.withUnsafeBytes { gcry_md_setkey(opened, $0.baseAddress, $0.count) }
            guard keyed == 0 else {
                gcry_md_close(opened)
                throw failure("HMAC-\(algorithm.opensslName) key", keyed)
            }
        }
        return opened
    }
}

extension DigestAlgorithm {
    /// libgcrypt's identifier of the algorithm.
    var gcryptAlgorithm: Int32 {
        switch self {
        case .sha256: Int32(GCRY_MD_SHA256.rawValue)
        case .sm3: Int32(GCRY_MD_SM3.rawValue)
        }
    }
}

import CGcrypt
import CLibCrypto

/// PBKDF2 (RFC 8018 section 5.2) with HMAC-SM3 or HMAC-SHA-256 as its pseudorandom function:
/// what stretches the passphrases of SM tenants' key slots, so that nothing but GM primitives
/// stands between a passphrase and an SM tenant's master key. libgcrypt computes it
/// (`gcry_kdf_derive`); OpenSSL's `PKCS5_PBKDF2_HMAC` is kept for cross-checks.
public enum PBKDF2 {
    /// Derives `count` bytes from `passphrase` and `salt` with `iterations` rounds.
    /// - Throws: ``CodecError/invalidArgument(_:)`` for an empty passphrase or salt, no iterations, a
    ///   bad length or a libgcrypt too old for SM3; a library error otherwise.
    public static func derive(algorithm: DigestAlgorithm, passphrase: [UInt8], salt: [UInt8], iterations: UInt64,
                              count: Int, library: CryptoLibrary? = nil) throws -> SecretKey {
        guard !passphrase.isEmpty else { throw CodecError.invalidArgument("PBKDF2 passphrase must not be empty") }
        // libgcrypt refuses an empty salt; key slots use 32 random bytes.
        guard !salt.isEmpty else { throw CodecError.invalidArgument("PBKDF2 salt must not be empty") }
        guard iterations > 0, iterations <= UInt64(Int32.max) else {
            throw CodecError.invalidArgument("PBKDF2 iterations must be 1...\(Int32.max), got \(iterations)")
        }
        guard count > 0, count <= 1024 else { throw CodecError.invalidArgument("PBKDF2 output length must be 1...1024, got \(count)") }
        switch library ?? .preferred(for: algorithm) {
        case .libgcrypt:
            try Gcrypt.ready()
            return try SecretKey(count: count) { out in
                let status = passphrase.withUnsafeBytes { p in
                    salt.withUnsafeBytes { s in
                        gcry_kdf_derive(p.baseAddress, p.count, Int32(GCRY_KDF_PBKDF2.rawValue), algorithm.gcryptAlgorithm,
                                        s.baseAddress, s.count, UInt(iterations), out.count, out.baseAddress)
                    }
                }
                guard status == 0 else { throw Gcrypt.failure("PBKDF2-HMAC-\(algorithm.opensslName)", status) }
            }
        case .openssl:
            return try SecretKey(count: count) { out in
                let rc = passphrase.withUnsafeBytes { p in
                    salt.withUnsafeBytes { s in
                        PKCS5_PBKDF2_HMAC(p.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(p.count),
                                          s.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(s.count), Int32(iterations),
                                          algorithm.fetchedMD, Int32(out.count), out.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
                guard rc == 1 else { throw CodecError.libcryptoError("PKCS5_PBKDF2_HMAC") }
            }
        }
    }
}

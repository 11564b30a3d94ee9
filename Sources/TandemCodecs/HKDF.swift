import CLibCrypto

/// HKDF (RFC 5869, extract-then-expand) via OpenSSL's `EVP_KDF` "HKDF".
public enum HKDF {
    /// Derives `count` bytes of key material.
    ///
    /// - Parameters:
    ///   - algorithm: the HMAC digest (SHA-256 by default, or SM3).
    ///   - inputKey: the input keying material (IKM); must not be empty.
    ///   - salt: optional salt (may be empty, meaning a zero-filled salt).
    ///   - info: context/application-specific information (may be empty).
    ///   - count: output length, 1 ... 255 × 32 bytes.
    /// - Throws: ``CodecError/invalidArgument(_:)`` for a bad length or empty
    ///   IKM, ``CodecError/libcrypto(_:)`` if OpenSSL refuses.
    public static func derive(
        algorithm: DigestAlgorithm = .sha256,
        inputKey: SecretKey,
        salt: [UInt8],
        info: [UInt8],
        count: Int
    ) throws -> SecretKey {
        let maxCount = 255 * algorithm.outputSize
        guard count > 0, count <= maxCount else {
            throw CodecError.invalidArgument("HKDF output length must be 1...\(maxCount), got \(count)")
        }
        guard inputKey.count > 0 else {
            throw CodecError.invalidArgument("HKDF input key must not be empty")
        }
        return try SecretKey(count: count) { out in
            let rc = inputKey.withUnsafeBytes { ikm in
                salt.withUnsafeBufferPointer { s in
                    info.withUnsafeBufferPointer { i in
                        tandem_hkdf(
                            FetchedAlgorithms.hkdf, algorithm.opensslName,
                            ikm.baseAddress!.assumingMemoryBound(to: UInt8.self), ikm.count,
                            s.baseAddress, s.count,
                            i.baseAddress, i.count,
                            out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count)
                    }
                }
            }
            guard rc == 1 else { throw CodecError.libcryptoError("HKDF derive") }
        }
    }
}

import CLibCrypto

/// HKDF (RFC 5869, extract-then-expand): HKDF-SHA-256 through OpenSSL's `EVP_KDF` "HKDF", and
/// HKDF-SM3 as RFC 5869's two steps over libgcrypt's HMAC-SM3 (``KeyedHash``), so that an SM
/// tenant's subkeys come from GM primitives computed where its data's are.
public enum HKDF {
    /// Derives `count` bytes of key material.
    ///
    /// - Parameters:
    ///   - algorithm: the HMAC digest (SHA-256 by default, or SM3).
    ///   - inputKey: the input keying material (IKM); must not be empty.
    ///   - salt: optional salt (may be empty, meaning a zero-filled salt).
    ///   - info: context/application-specific information (may be empty).
    ///   - count: output length, 1 ... 255 × 32 bytes.
    ///   - library: the library whose HMAC runs it (by default the one Tandem uses).
    /// - Throws: ``CodecError/invalidArgument(_:)`` for a bad length, an empty IKM or a
    ///   libgcrypt too old for SM3, ``CodecError/libcrypto(_:)`` if OpenSSL refuses.
    public static func derive(
        algorithm: DigestAlgorithm = .sha256,
        inputKey: SecretKey,
        salt: [UInt8],
        info: [UInt8],
        count: Int,
        library: CryptoLibrary? = nil
    ) throws -> SecretKey {
        let maxCount = 255 * algorithm.outputSize
        guard count > 0, count <= maxCount else {
            throw CodecError.invalidArgument("HKDF output length must be 1...\(maxCount), got \(count)")
        }
        guard inputKey.count > 0 else {
            throw CodecError.invalidArgument("HKDF input key must not be empty")
        }
        switch library ?? .preferred(for: algorithm) {
        case .openssl: return try openssl(algorithm, inputKey: inputKey, salt: salt, info: info, count: count)
        case .libgcrypt:
            try Gcrypt.ready()
            return try overHMAC(algorithm, inputKey: inputKey, salt: salt, info: info, count: count, library: .libgcrypt)
        }
    }

    /// RFC 5869 section 2: PRK = HMAC(salt, IKM); T(i) = HMAC(PRK, T(i-1) | info | i).
    static func overHMAC(_ algorithm: DigestAlgorithm, inputKey: SecretKey, salt: [UInt8], info: [UInt8], count: Int,
                         library: CryptoLibrary) throws -> SecretKey {
        let size = algorithm.outputSize
        // An empty salt is HashLen zero bytes (section 2.2).
        let extractor = KeyedHash(algorithm, key: SecretKey(bytes: salt.isEmpty ? [UInt8](repeating: 0, count: size) : salt), library: library)
        var prk = inputKey.withUnsafeBytes { extractor.mac($0) }
        defer { for index in prk.indices { prk[index] = 0 } }
        let expander = KeyedHash(algorithm, key: SecretKey(bytes: prk), library: library)
        return try SecretKey(count: count) { out in
            var block = [UInt8]()
            var written = 0
            var counter: UInt8 = 1
            while written < count {
                expander.begin()
                expander.update(block)
                expander.update(info)
                expander.update([counter])
                block = expander.finish()
                let take = min(size, count - written)
                block.withUnsafeBytes { out.baseAddress!.advanced(by: written).copyMemory(from: $0.baseAddress!, byteCount: take) }
                written += take
                counter &+= 1
            }
            for index in block.indices { block[index] = 0 }
        }
    }

    private static func openssl(_ algorithm: DigestAlgorithm, inputKey: SecretKey, salt: [UInt8], info: [UInt8],
                                count: Int) throws -> SecretKey {
        try SecretKey(count: count) { out in
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

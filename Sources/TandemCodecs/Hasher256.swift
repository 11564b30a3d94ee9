import CLibCrypto

/// Incremental SHA-256 / SM3 hashing with a reused `EVP_MD_CTX`.
///
/// Not `Sendable`: an instance holds mutable OpenSSL state, so create one per
/// task. After ``finalize()`` the hasher is reset and can be reused, which
/// avoids allocating a context per message.
public final class Hasher256 {
    /// The algorithm this hasher computes.
    public let algorithm: DigestAlgorithm
    private let md: OpaquePointer
    private let ctx: OpaquePointer

    /// Digest length in bytes.
    public static let outputSize = 32

    /// Creates a hasher for `algorithm`, ready for ``update(_:)-(UnsafeRawBufferPointer)``.
    public init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        self.md = algorithm.fetchedMD
        guard let ctx = EVP_MD_CTX_new() else { libcryptoFatal("EVP_MD_CTX_new") }
        self.ctx = ctx
        reset()
    }

    deinit {
        EVP_MD_CTX_free(ctx)
    }

    /// Discards any data hashed so far.
    public func reset() {
        guard EVP_DigestInit_ex2(ctx, md, nil) == 1 else { libcryptoFatal("EVP_DigestInit_ex2") }
    }

    /// Feeds `bytes` into the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        guard EVP_DigestUpdate(ctx, base, bytes.count) == 1 else {
            libcryptoFatal("EVP_DigestUpdate")
        }
    }

    /// Feeds `bytes` into the hash.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the 32-byte digest of everything fed since the last reset, then
    /// resets the hasher for reuse.
    public func finalize() -> [UInt8] {
        let out = [UInt8](unsafeUninitializedCapacity: Self.outputSize) { buf, n in
            finalize(into: UnsafeMutableRawBufferPointer(buf))
            n = Self.outputSize
        }
        return out
    }

    /// Writes the 32-byte digest into `out` (which must hold at least 32
    /// bytes), then resets the hasher.
    public func finalize(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.outputSize, "Hasher256.finalize: buffer too small")
        var len: UInt32 = 0
        guard
            EVP_DigestFinal_ex(ctx, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &len) == 1,
            Int(len) == Self.outputSize
        else { libcryptoFatal("EVP_DigestFinal_ex") }
        reset()
    }

    /// One-shot digest of `bytes` (uses the shared fetched `EVP_MD`).
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: outputSize) { buf, n in
            var len: UInt32 = 0
            // EVP_Digest accepts a NULL data pointer only with a zero count.
            var dummy: UInt8 = 0
            let ok = withUnsafeMutablePointer(to: &dummy) { d -> Int32 in
                let data = bytes.baseAddress ?? UnsafeRawPointer(d)
                return EVP_Digest(data, bytes.count, buf.baseAddress, &len, algorithm.fetchedMD, nil)
            }
            guard ok == 1, Int(len) == outputSize else { libcryptoFatal("EVP_Digest") }
            n = outputSize
        }
    }

    /// One-shot digest of `bytes`.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash(algorithm, $0) }
    }
}

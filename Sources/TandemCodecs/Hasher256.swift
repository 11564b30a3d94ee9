import CGcrypt
import CLibCrypto

/// Incremental SHA-256 (OpenSSL) and SM3 (libgcrypt) hashing with a reused context.
///
/// Not `Sendable`: an instance holds mutable C state, so create one per task. After
/// ``finalize()`` the hasher is reset and can be reused, which avoids allocating a context per
/// message.
public final class Hasher256 {
    /// The algorithm this hasher computes.
    public let algorithm: DigestAlgorithm
    /// The library that computes it.
    public let library: CryptoLibrary
    private let context: Context

    private enum Context {
        case openssl(md: OpaquePointer, ctx: OpaquePointer)
        case libgcrypt(gcry_md_hd_t)
    }

    /// Digest length in bytes.
    public static let outputSize = 32

    /// Creates a hasher for `algorithm`, computed by `library` (by default the one Tandem uses
    /// for it), ready for ``update(_:)-(UnsafeRawBufferPointer)``. SM3 through libgcrypt traps
    /// if the library is older than ``Gcrypt/minimumVersion`` (see ``KeyedHash``).
    public init(_ algorithm: DigestAlgorithm, library: CryptoLibrary? = nil) {
        self.algorithm = algorithm
        let library = library ?? .preferred(for: algorithm)
        self.library = library
        switch library {
        case .openssl:
            guard let ctx = EVP_MD_CTX_new() else { libcryptoFatal("EVP_MD_CTX_new") }
            context = .openssl(md: algorithm.fetchedMD, ctx: ctx)
        case .libgcrypt:
            do {
                context = .libgcrypt(try Gcrypt.openHash(algorithm, key: nil))
            } catch {
                fatalError("\(algorithm.opensslName) through libgcrypt: \(error)")
            }
        }
        reset()
    }

    deinit {
        switch context {
        case .openssl(_, let ctx): EVP_MD_CTX_free(ctx)
        case .libgcrypt(let handle): gcry_md_close(handle)
        }
    }

    /// Discards any data hashed so far.
    public func reset() {
        switch context {
        case .openssl(let md, let ctx):
            guard EVP_DigestInit_ex2(ctx, md, nil) == 1 else { libcryptoFatal("EVP_DigestInit_ex2") }
        case .libgcrypt(let handle):
            gcry_md_reset(handle)
        }
    }

    /// Feeds `bytes` into the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        switch context {
        case .openssl(_, let ctx):
            guard EVP_DigestUpdate(ctx, base, bytes.count) == 1 else { libcryptoFatal("EVP_DigestUpdate") }
        case .libgcrypt(let handle):
            gcry_md_write(handle, base, bytes.count)
        }
    }

    /// Feeds `bytes` into the hash.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the 32-byte digest of everything fed since the last reset, then
    /// resets the hasher for reuse.
    public func finalize() -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.outputSize) { buf, n in
            finalize(into: UnsafeMutableRawBufferPointer(buf))
            n = Self.outputSize
        }
    }

    /// Writes the 32-byte digest into `out` (which must hold at least 32
    /// bytes), then resets the hasher.
    public func finalize(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.outputSize, "Hasher256.finalize: buffer too small")
        let target = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
        switch context {
        case .openssl(_, let ctx):
            var len: UInt32 = 0
            guard EVP_DigestFinal_ex(ctx, target, &len) == 1, Int(len) == Self.outputSize else {
                libcryptoFatal("EVP_DigestFinal_ex")
            }
        case .libgcrypt(let handle):
            target.update(from: tandem_gcry_md_digest(handle, algorithm.gcryptAlgorithm), count: Self.outputSize)
        }
        reset()
    }

    /// One-shot digest of `bytes` by the library Tandem uses for `algorithm`.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        switch CryptoLibrary.preferred(for: algorithm) {
        case .libgcrypt:
            let hasher = Hasher256(algorithm)
            hasher.update(bytes)
            return hasher.finalize()
        case .openssl:
            return [UInt8](unsafeUninitializedCapacity: outputSize) { buf, n in
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
    }

    /// One-shot digest of `bytes`.
    public static func hash(_ algorithm: DigestAlgorithm, _ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash(algorithm, $0) }
    }
}

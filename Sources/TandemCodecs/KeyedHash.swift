import CGcrypt
import CLibCrypto

/// HMAC-SHA-256 (OpenSSL's `EVP_MAC`) and HMAC-SM3 (libgcrypt's HMAC handle).
///
/// Built for millions of small calls: the key is installed once into a long-lived context; each
/// message only restores the precomputed inner/outer pad state (`EVP_MAC_init` with no key,
/// `gcry_md_reset`) instead of re-deriving it from the key.
///
/// Not `Sendable`: create one instance per task. Both forms are available: one-shot
/// ``mac(_:)-(UnsafeRawBufferPointer)`` and streaming ``begin()`` /
/// ``update(_:)-(UnsafeRawBufferPointer)`` / ``finish()``.
public final class KeyedHash {
    /// The underlying digest.
    public let algorithm: DigestAlgorithm
    /// The library that computes it.
    public let library: CryptoLibrary
    private let context: Context
    /// True when the context holds state from a previous message and must be re-initialised
    /// before new data is absorbed.
    private var needsReinit = false

    private enum Context {
        case openssl(OpaquePointer)
        case libgcrypt(gcry_md_hd_t)
    }

    /// MAC length in bytes.
    public static let outputSize = 32

    /// Creates an HMAC keyed with `key` (any length; HMAC hashes keys longer than the block
    /// size), computed by `library` (by default the one Tandem uses for `algorithm`).
    ///
    /// HMAC-SM3 needs libgcrypt ``Gcrypt/minimumVersion`` or newer; every caller that keys one
    /// from a tenant's master key has already derived that key with ``HKDF`` (which throws a
    /// clear error when the library is missing), so a missing library here is a programming
    /// error and traps.
    public init(_ algorithm: DigestAlgorithm, key: SecretKey, library: CryptoLibrary? = nil) {
        self.algorithm = algorithm
        let library = library ?? .preferred(for: algorithm)
        self.library = library
        switch library {
        case .openssl:
            let ctx = key.withUnsafeBytes { k in
                tandem_hmac_ctx_new(
                    FetchedAlgorithms.hmac, algorithm.opensslName,
                    k.baseAddress?.assumingMemoryBound(to: UInt8.self), k.count)
            }
            guard let ctx else { libcryptoFatal("HMAC init (\(algorithm.opensslName))") }
            context = .openssl(ctx)
        case .libgcrypt:
            do {
                context = .libgcrypt(try Gcrypt.openHash(algorithm, key: key))
            } catch {
                fatalError("HMAC-\(algorithm.opensslName) through libgcrypt: \(error)")
            }
        }
    }

    deinit {
        // Both free functions wipe the HMAC key schedule.
        switch context {
        case .openssl(let ctx): EVP_MAC_CTX_free(ctx)
        case .libgcrypt(let handle): gcry_md_close(handle)
        }
    }

    @inline(__always)
    private func reinitIfNeeded() {
        if needsReinit {
            switch context {
            case .openssl(let ctx):
                guard EVP_MAC_init(ctx, nil, 0, nil) == 1 else { libcryptoFatal("EVP_MAC_init") }
            case .libgcrypt(let handle):
                gcry_md_reset(handle)
            }
            needsReinit = false
        }
    }

    @inline(__always)
    private func absorb(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        switch context {
        case .openssl(let ctx):
            guard EVP_MAC_update(ctx, base.assumingMemoryBound(to: UInt8.self), bytes.count) == 1 else {
                libcryptoFatal("EVP_MAC_update")
            }
        case .libgcrypt(let handle):
            gcry_md_write(handle, base, bytes.count)
        }
    }

    @inline(__always)
    private func finalize(into out: UnsafeMutablePointer<UInt8>) {
        switch context {
        case .openssl(let ctx):
            var len = 0
            guard EVP_MAC_final(ctx, out, &len, Self.outputSize) == 1, len == Self.outputSize else {
                libcryptoFatal("EVP_MAC_final")
            }
        case .libgcrypt(let handle):
            out.update(from: tandem_gcry_md_digest(handle, algorithm.gcryptAlgorithm), count: Self.outputSize)
        }
        needsReinit = true
    }

    /// Computes the MAC of `message` in one call.
    public func mac(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        reinitIfNeeded()
        absorb(message)
        return [UInt8](unsafeUninitializedCapacity: Self.outputSize) { buf, n in
            finalize(into: buf.baseAddress!)
            n = Self.outputSize
        }
    }

    /// Computes the MAC of `message` into `out` (at least 32 bytes) without
    /// allocating: the cheapest form for very small messages.
    public func mac(_ message: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.outputSize, "KeyedHash.mac: buffer too small")
        reinitIfNeeded()
        absorb(message)
        finalize(into: out.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }

    /// Computes the MAC of `message` in one call.
    public func mac(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { mac($0) }
    }

    /// Starts a new streaming MAC, discarding any unfinished message.
    /// Optional after ``finish()``, which already leaves the object ready.
    public func begin() {
        // Lazy: the context is re-initialised by the next update/finish.
        needsReinit = true
    }

    /// Absorbs the next piece of a streaming message.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        reinitIfNeeded()
        absorb(bytes)
    }

    /// Absorbs the next piece of a streaming message.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Returns the MAC of everything absorbed since ``begin()`` (or the last
    /// ``finish()``) and prepares for the next message.
    public func finish() -> [UInt8] {
        reinitIfNeeded()
        return [UInt8](unsafeUninitializedCapacity: Self.outputSize) { buf, n in
            finalize(into: buf.baseAddress!)
            n = Self.outputSize
        }
    }

    /// Writes the MAC of everything absorbed so far into `out` (at least 32
    /// bytes) without allocating, and prepares for the next message.
    public func finish(into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= Self.outputSize, "KeyedHash.finish: buffer too small")
        reinitIfNeeded()
        finalize(into: out.baseAddress!.assumingMemoryBound(to: UInt8.self))
    }

    /// Computes the MAC of `message` and compares it with `tag` in constant
    /// time. Returns false for a tag of the wrong length.
    public func verify(_ message: UnsafeRawBufferPointer, tag: UnsafeRawBufferPointer) -> Bool {
        reinitIfNeeded()
        absorb(message)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.outputSize) { buf in
            finalize(into: buf.baseAddress!)
            let ok = constantTimeEquals(UnsafeRawBufferPointer(buf), tag)
            OPENSSL_cleanse(buf.baseAddress, Self.outputSize)
            return ok
        }
    }
}

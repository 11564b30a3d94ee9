import CLibCrypto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Owned, heap-allocated key material.
///
/// The bytes live in a `malloc`'d buffer that is wiped with
/// `OPENSSL_cleanse` when the key is released. The bytes never appear in
/// `description`, `debugDescription` or reflection output.
///
/// Instances are immutable after initialisation, so they are safe to share
/// between tasks.
public final class SecretKey: @unchecked Sendable, CustomStringConvertible,
    CustomDebugStringConvertible, CustomReflectable
{
    private let storage: UnsafeMutableRawPointer
    /// Number of key bytes.
    public let count: Int

    /// Allocates `count` bytes and lets `fill` write the key material.
    /// The buffer is cleansed and freed if `fill` throws.
    init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        precondition(count >= 0, "SecretKey: negative length")
        guard let p = malloc(Swift.max(count, 1)) else {
            fatalError("SecretKey: out of memory")
        }
        do {
            try fill(UnsafeMutableRawBufferPointer(start: p, count: count))
        } catch {
            OPENSSL_cleanse(p, Swift.max(count, 1))
            free(p)
            throw error
        }
        self.storage = p
        self.count = count
    }

    /// Copies `bytes` into a new key. The caller remains responsible for
    /// wiping its own copy if it needs to.
    public convenience init(bytes: [UInt8]) {
        self.init(count: bytes.count) { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: src) }
        }
    }

    /// Copies the bytes of `buffer` into a new key.
    public convenience init(copying buffer: UnsafeRawBufferPointer) {
        self.init(count: buffer.count) { dst in dst.copyMemory(from: buffer) }
    }

    /// Creates a key of `count` bytes from the OpenSSL CSPRNG (`RAND_bytes`).
    public static func random(count: Int) -> SecretKey {
        SecretKey(count: count) { SecureRandom.fill($0) }
    }

    deinit {
        OPENSSL_cleanse(storage, Swift.max(count, 1))
        free(storage)
    }

    /// Calls `body` with a read-only view of the key bytes. The pointer must
    /// not escape the closure.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage, count: count))
    }

    /// Compares two keys in time independent of their contents (`CRYPTO_memcmp`).
    /// Keys of different lengths compare unequal; the length is not secret.
    public func constantTimeEquals(_ other: SecretKey) -> Bool {
        guard count == other.count else { return false }
        if count == 0 { return true }
        return CRYPTO_memcmp(storage, other.storage, count) == 0
    }

    /// Compares two byte arrays in constant time (see the free function
    /// ``constantTimeEquals(_:_:)``).
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        TandemCodecs.constantTimeEquals(a, b)
    }

    /// `SecretKey(<redacted N bytes>)`; never the key bytes.
    public var description: String { "SecretKey(<redacted \(count) bytes>)" }

    /// Same as ``description``.
    public var debugDescription: String { description }

    /// A mirror with no children, so `dump` and debuggers show no bytes.
    public var customMirror: Mirror {
        Mirror(self, children: [(label: String?, value: Any)](), displayStyle: .class)
    }
}

/// Compares two byte arrays with `CRYPTO_memcmp`, so the time taken does not
/// depend on where they differ. Arrays of different lengths compare unequal
/// immediately (the length is not treated as secret).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in
            CRYPTO_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0
        }
    }
}

/// Constant-time comparison of two raw buffers (internal, used by MAC checks).
func constantTimeEquals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return CRYPTO_memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
}

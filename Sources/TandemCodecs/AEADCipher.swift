import CLibCrypto

/// An authenticated cipher that seals whole messages into a self-contained
/// byte string (nonce/IV, ciphertext and tag) and opens them again.
///
/// Implementations hold reusable OpenSSL contexts and are not `Sendable`:
/// create one instance per task.
public protocol AEADCipher: AnyObject {
    /// Bytes added to every message (`sealed.count - plaintext.count`).
    static var overhead: Int { get }

    /// Encrypts and authenticates `plaintext`, binding `associatedData`.
    /// A fresh random nonce is generated for every call.
    func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8]

    /// Verifies and decrypts a message produced by ``seal(_:associatedData:)``.
    /// - Throws: ``CodecError/truncatedInput(_:)`` if `sealed` is shorter than
    ///   the overhead, ``CodecError/authenticationFailed`` on any tampering or
    ///   an associated-data mismatch.
    func open(_ sealed: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8]

    /// ``seal(_:associatedData:)`` into an array that starts with `prefix` (not authenticated
    /// unless it is also in `associatedData`): a header and its sealed body in one buffer,
    /// without copying a large body behind the header afterwards.
    func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], after prefix: [UInt8]) throws -> [UInt8]
}

extension AEADCipher {
    /// Seals `plaintext` (array convenience).
    public func seal(_ plaintext: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        try plaintext.withUnsafeBytes { try seal($0, associatedData: associatedData) }
    }

    /// Opens `sealed` (array convenience).
    public func open(_ sealed: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        try sealed.withUnsafeBytes { try open($0, associatedData: associatedData) }
    }
}

/// Largest length passed to a single `EVP_*Update` call (its length is a C `int`).
let evpMaxChunk = 1 << 30

/// Runs `EVP_CipherUpdate`-style calls over `input` in chunks that fit in
/// `Int32`. With `out == nil` the input is fed as AAD (GCM). Returns the
/// number of bytes written, or nil if OpenSSL reported a failure.
@inline(__always)
func evpCipherUpdate(
    _ ctx: OpaquePointer,
    encrypt: Bool,
    out: UnsafeMutablePointer<UInt8>?,
    input: UnsafeRawBufferPointer
) -> Int? {
    guard let inBase = input.baseAddress, input.count > 0 else { return 0 }
    var offset = 0
    var written = 0
    while offset < input.count {
        let n = Swift.min(input.count - offset, evpMaxChunk)
        var outl: Int32 = 0
        let src = (inBase + offset).assumingMemoryBound(to: UInt8.self)
        let dst = out.map { $0 + written }
        let rc = encrypt
            ? EVP_EncryptUpdate(ctx, dst, &outl, src, Int32(n))
            : EVP_DecryptUpdate(ctx, dst, &outl, src, Int32(n))
        guard rc == 1 else { return nil }
        offset += n
        written += Int(outl)
    }
    return written
}

/// Encodes `value` as 8 big-endian bytes into `out`.
@inline(__always)
func storeUInt64BE(_ value: UInt64, into out: UnsafeMutableRawPointer) {
    out.storeBytes(of: value.bigEndian, as: UInt64.self)
}

/// SM4-GCM (GB/T 36624-2018; the AEAD of RFC 8998) through libgcrypt: the blob and key-slot
/// cipher of the `sm4gcm` suite.
///
/// Sealed format: `nonce (12, random) || ciphertext || tag (16)`, ``overhead`` 28, the same
/// layout as ``AES256GCMCipher``. A random 96-bit nonce per message keeps the collision chance
/// below 2^-32 for up to 2^32 messages under one key, as NIST SP 800-38D asks of GCM; one
/// tenant's data key seals one blob per distinct chunk, far fewer.
/// Not `Sendable`: create one instance per task.
public final class SM4GCMCipher: AEADCipher {
    public static let keySize = GcryptSM4.keySize
    public static let nonceSize = GcryptSM4.gcmNonceSize
    public static let tagSize = GcryptSM4.gcmTagSize
    public static var overhead: Int { nonceSize + tagSize }

    private let sm4: GcryptSM4

    /// A cipher keyed with a 16-byte SM4 key.
    /// - Throws: ``CodecError/invalidKeyLength(expected:got:)``, or a libgcrypt older than
    ///   ``Gcrypt/minimumVersion``.
    public init(key: SecretKey) throws {
        sm4 = try GcryptSM4(key: key, mode: .gcm)
    }

    public func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8] {
        try seal(plaintext, associatedData: associatedData, after: [])
    }

    public func seal(_ plaintext: UnsafeRawBufferPointer, associatedData: [UInt8], after prefix: [UInt8]) throws -> [UInt8] {
        let total = prefix.count + Self.overhead + plaintext.count
        return try [UInt8](unsafeUninitializedCapacity: total) { out, initialized in
            prefix.withUnsafeBytes { UnsafeMutableRawBufferPointer(out).copyMemory(from: $0) }
            let base = out.baseAddress! + prefix.count
            SecureRandom.fill(UnsafeMutableRawBufferPointer(start: base, count: Self.nonceSize))
            try sm4.sealGCM(plaintext, nonce: base, associatedData: associatedData, into: base + Self.nonceSize)
            initialized = total
        }
    }

    /// Verifies the tag over the associated data and ciphertext and returns the plaintext;
    /// nothing of a message that fails is returned.
    public func open(_ sealed: UnsafeRawBufferPointer, associatedData: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= Self.overhead else {
            throw CodecError.truncatedInput("SM4-GCM message is \(sealed.count) bytes, minimum \(Self.overhead)")
        }
        let body = UnsafeRawBufferPointer(rebasing: sealed[Self.nonceSize...])
        return try sm4.openGCM(body, nonce: sealed.baseAddress!, associatedData: associatedData)
    }
}

import TandemCodecs

/// What a blob holds. Its byte is part of the associated data, so a blob cannot be replayed as
/// another type.
public enum BlobType: UInt8, Sendable, Codable {
    /// A chunk of a file or stream.
    case data = 0
    /// A chunk list (``ChunkListCodec`` records) of a long file or stream.
    case chunkList = 1
}

/// A chunk sealed for storage, with what the pack trailer records of it.
public struct SealedBlob: Sendable {
    public let id: ChunkID
    public let type: BlobType
    public let bytes: [UInt8]
    public let codec: StoredCodec
    public let rawLength: Int
}

/// Why a blob could not be opened.
public enum BlobError: Error, Equatable, CustomStringConvertible {
    /// The AEAD tag failed: the bytes were changed or belong to another key.
    case authenticationFailed(ChunkID)
    /// Authentic but malformed: an unknown codec or a length that does not match.
    case malformed(ChunkID, String)
    /// Decrypted and decompressed, but the keyed hash is not the chunk ID.
    case hashMismatch(ChunkID)
    /// Just sealed, the blob did not decode to the plaintext the ID was taken of (a codec,
    /// cipher or memory fault on this machine); it was not stored.
    case sealVerificationFailed(ChunkID)

    public var description: String {
        switch self {
        case .authenticationFailed(let id): "blob \(id.hex.prefix(16)) fails authentication"
        case .malformed(let id, let why): "blob \(id.hex.prefix(16)) is malformed: \(why)"
        case .hashMismatch(let id): "blob \(id.hex.prefix(16)) decrypts to data whose hash is not its ID"
        case .sealVerificationFailed(let id):
            "chunk \(id.hex.prefix(16)) did not decode, once sealed, to the plaintext its ID was taken of (a codec, cipher or memory fault on this machine); it was not stored"
        }
    }
}

/// A chunk's ID and the checksum of the plaintext it was taken of, computed together
/// (``BlobSealer/fingerprint(of:)``) so that sealing can prove the stored blob decodes to that
/// very plaintext without a second pass of the suite's cryptographic hash.
public struct ChunkFingerprint: Sendable, Equatable {
    public let id: ChunkID
    public let checksum: Checksum64

    public init(id: ChunkID, checksum: Checksum64) {
        self.id = id
        self.checksum = checksum
    }
}

/// Names, compresses, encrypts and verifies chunks for one tenant: one per worker task, since
/// it owns the C contexts (HMAC, cipher, zstd) that make per-chunk work cheap.
///
/// Sealed layout (inside the AEAD): `codec u8 | raw length u32le | payload`; associated data:
/// `"TNDB" | type u8 | chunk ID (32)`.
///
/// Verify-before-store: before a sealed blob is handed out it is opened again (the AEAD tag
/// checked), decompressed, and the result compared, by length and XXH3-64, with the checksum
/// taken of the plaintext when its ID was computed. A codec, cipher or memory fault between
/// the ID and the stored bytes is never stored under a valid ID, and the plaintext is hashed
/// with the suite's hash once, not twice (RepositoryFormat.md, "Verify before store").
public final class BlobSealer {
    let keyedHash: KeyedHash
    let cipher: any AEADCipher
    private let compression: Compression
    var zstd: ZstdCodec?
    /// Test hook: damages the bytes between compression and encryption, or the sealed bytes
    /// before they are verified, to prove the verification refuses them.
    var injectedFault: SealFault?

    /// Where ``injectedFault`` strikes.
    enum SealFault {
        /// The framed (compressed) payload, before encryption.
        case framedPayload
        /// The ciphertext, after encryption.
        case ciphertext
    }

    public init(keys: TenantKeys, compression: Compression) throws {
        keyedHash = KeyedHash(keys.suite.digest, key: keys.idKey)
        cipher = try keys.suite.makeCipher(key: keys.dataKey)
        self.compression = compression
        if case .zstd(let level) = compression { zstd = ZstdCodec(level: Int32(level)) }
    }

    /// The keyed hash of `plaintext`.
    public func chunkID(of plaintext: UnsafeRawBufferPointer) -> ChunkID {
        ChunkID(bytes: keyedHash.mac(plaintext))
    }

    /// The keyed hash of `plaintext` and, straight after it over the same bytes, their XXH3-64.
    public func fingerprint(of plaintext: UnsafeRawBufferPointer) -> ChunkFingerprint {
        ChunkFingerprint(id: chunkID(of: plaintext), checksum: Checksum64(of: plaintext))
    }

    /// Seals `plaintext` under `id`, its checksum taken now: for callers that computed the ID
    /// just before from the same buffer (chunk lists), or verified `plaintext` against `id` by
    /// re-hashing it (prune's regrouping).
    public func seal(_ plaintext: UnsafeRawBufferPointer, id: ChunkID, type: BlobType = .data) throws -> SealedBlob {
        try seal(plaintext, fingerprint: ChunkFingerprint(id: id, checksum: Checksum64(of: plaintext)), type: type)
    }

    /// Compresses (falling back to raw when that does not shrink), seals and verifies against
    /// `fingerprint`: the sealed blob must decode to `plaintext.count` bytes whose checksum is
    /// the one taken with the ID.
    /// - Throws: ``BlobError/sealVerificationFailed(_:)`` when it does not.
    public func seal(_ plaintext: UnsafeRawBufferPointer, fingerprint: ChunkFingerprint, type: BlobType = .data) throws -> SealedBlob {
        let id = fingerprint.id
        var codec = StoredCodec.raw
        var compressed: [UInt8]?
        switch compression {
        case .none: break
        case _ where CompressibilityEstimate.looksIncompressible(plaintext): break
        case .lz4:
            compressed = try LZ4Codec.compress(plaintext)
            codec = .lz4
        case .zstd:
            compressed = try zstd!.compress(plaintext)
            codec = .zstd
        }
        if let c = compressed, c.count >= plaintext.count { compressed = nil; codec = .raw }
        var framed = [UInt8]()
        framed.reserveCapacity(5 + (compressed?.count ?? plaintext.count))
        framed.append(codec.rawValue)
        Self.appendUInt32(&framed, UInt32(plaintext.count))
        if let compressed { framed.append(contentsOf: compressed) } else { framed.append(contentsOf: plaintext) }
        if injectedFault == .framedPayload { framed[framed.count / 2 + 2] ^= 0x20 }
        var sealed = try cipher.seal(framed, associatedData: Self.associatedData(id: id, type: type))
        if injectedFault == .ciphertext { sealed[sealed.count / 2] ^= 0x20 }
        let decoded: [UInt8]
        do {
            decoded = try sealed.withUnsafeBytes { try decode($0, id: id, type: type, maximumLength: plaintext.count) }
        } catch {
            throw BlobError.sealVerificationFailed(id)
        }
        guard decoded.count == plaintext.count, Checksum64(of: decoded) == fingerprint.checksum else {
            throw BlobError.sealVerificationFailed(id)
        }
        return SealedBlob(id: id, type: type, bytes: sealed, codec: codec, rawLength: plaintext.count)
    }

    /// Decrypts, decompresses and re-hashes a sealed blob; throws ``BlobError`` on any damage.
    /// `maximumLength` bounds what a hostile length field may make it allocate.
    public func open(_ sealed: UnsafeRawBufferPointer, id: ChunkID, type: BlobType = .data, maximumLength: Int) throws -> [UInt8] {
        let plaintext = try decode(sealed, id: id, type: type, maximumLength: maximumLength)
        guard plaintext.withUnsafeBytes({ chunkID(of: $0) }) == id else { throw BlobError.hashMismatch(id) }
        return plaintext
    }

    /// Decrypts and decompresses a sealed blob without re-hashing it: the AEAD tag over the
    /// ciphertext and the associated data, which holds `id`, proves the blob is the one sealed
    /// under `id` with this tenant's key, and verify-before-store proved, before it was stored,
    /// that it decodes to the plaintext `id` was taken of. Restores use it; `check --read-data`
    /// and anything that re-stores a blob use ``open(_:id:type:maximumLength:)``.
    public func openAuthenticated(_ sealed: UnsafeRawBufferPointer, id: ChunkID, type: BlobType = .data,
                                  maximumLength: Int) throws -> [UInt8] {
        try decode(sealed, id: id, type: type, maximumLength: maximumLength)
    }

    /// AEAD open, framing and decompression, lengths checked.
    func decode(_ sealed: UnsafeRawBufferPointer, id: ChunkID, type: BlobType, maximumLength: Int) throws -> [UInt8] {
        let framed: [UInt8]
        do {
            framed = try cipher.open(sealed, associatedData: Self.associatedData(id: id, type: type))
        } catch {
            throw BlobError.authenticationFailed(id)
        }
        guard framed.count >= 5, let codec = StoredCodec(rawValue: framed[0]) else {
            throw BlobError.malformed(id, "unknown codec or short header")
        }
        let rawLength = Int(framed[1]) | Int(framed[2]) << 8 | Int(framed[3]) << 16 | Int(framed[4]) << 24
        guard rawLength <= maximumLength else { throw BlobError.malformed(id, "length \(rawLength) exceeds \(maximumLength)") }
        let plaintext: [UInt8]
        do {
            plaintext = try framed.withUnsafeBytes { raw -> [UInt8] in
                let payload = UnsafeRawBufferPointer(rebasing: raw[5...])
                switch codec {
                case .raw: return Array(payload)
                case .lz4: return try LZ4Codec.decompress(payload, originalSize: rawLength)
                case .zstd:
                    if zstd == nil { zstd = ZstdCodec(level: 3) }
                    return try zstd!.decompress(payload, maxSize: rawLength)
                }
            }
        } catch {
            throw BlobError.malformed(id, "payload does not decompress")
        }
        guard plaintext.count == rawLength else { throw BlobError.malformed(id, "length differs from header") }
        return plaintext
    }

    static func associatedData(id: ChunkID, type: BlobType) -> [UInt8] {
        Array("TNDB".utf8) + [type.rawValue] + id.bytes
    }

    static func appendUInt32(_ out: inout [UInt8], _ value: UInt32) {
        for shift in stride(from: 0, through: 24, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}

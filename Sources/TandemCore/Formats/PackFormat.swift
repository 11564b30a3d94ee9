import TandemCodecs

/// Where one blob sits in a pack: what the pack trailer and the index record.
public struct PackEntry: Sendable, Equatable {
    public let id: ChunkID
    public let type: BlobType
    public let codec: StoredCodec
    /// Byte offset of the sealed blob from the start of the pack.
    public let offset: Int
    /// Length of the sealed blob.
    public let length: Int
    /// Length of the chunk's plaintext.
    public let rawLength: Int

    public init(id: ChunkID, type: BlobType, codec: StoredCodec, offset: Int, length: Int, rawLength: Int) {
        self.id = id
        self.type = type
        self.codec = codec
        self.offset = offset
        self.length = length
        self.rawLength = rawLength
    }
}

/// Pack file layout, version 1 (the repository format article has the table):
///
/// ```
/// header   16 B   "TNDMPACK" | version u16le | 6 zero bytes
/// blobs           sealed blobs back to back
/// trailer         sealed with the data key, AD "TNDMPTRL" | version u16le:
///                 count u32le | count × (type u8 | codec u8 | id 32 | offset u64le | length u32le | raw u32le)
/// footer   16 B   trailer length u32le | 4 zero bytes | "TNDMPEND"
/// ```
/// A pack is named by the SHA-256 of all its bytes, so anyone can verify it without a key.
public enum PackFormat {
    public static let version: UInt16 = 1
    public static let supportedVersions = 1...1
    public static let headerMagic = Array("TNDMPACK".utf8)
    public static let footerMagic = Array("TNDMPEND".utf8)
    public static let headerLength = 16
    public static let footerLength = 16
    static let entryLength = 50
    /// A trailer listing more blobs than this is refused before allocation.
    public static let maximumEntries = 1 << 22

    /// The 16 header bytes.
    public static func header() -> [UInt8] {
        var writer = ByteWriter(capacity: headerLength)
        writer.append(headerMagic)
        writer.uint16(version)
        writer.append([UInt8](repeating: 0, count: 6))
        return writer.bytes
    }

    static var trailerAssociatedData: [UInt8] {
        var writer = ByteWriter()
        writer.append(Array("TNDMPTRL".utf8))
        writer.uint16(version)
        return writer.bytes
    }

    /// The sealed trailer and footer that end a pack.
    public static func trailer(entries: [PackEntry], cipher: any AEADCipher) throws -> [UInt8] {
        var plain = ByteWriter(capacity: 4 + entries.count * entryLength)
        plain.uint32(UInt32(entries.count))
        for entry in entries {
            plain.uint8(entry.type.rawValue)
            plain.uint8(entry.codec.rawValue)
            plain.append(entry.id.bytes)
            plain.uint64(UInt64(entry.offset))
            plain.uint32(UInt32(entry.length))
            plain.uint32(UInt32(entry.rawLength))
        }
        let sealed = try cipher.seal(plain.bytes, associatedData: trailerAssociatedData)
        var out = ByteWriter(capacity: sealed.count + footerLength)
        out.append(sealed)
        out.uint32(UInt32(sealed.count))
        out.append([0, 0, 0, 0])
        out.append(footerMagic)
        return out.bytes
    }

    /// Checks a pack's header bytes (its first 16).
    public static func checkHeader(_ bytes: [UInt8]) throws(FormatError) {
        var reader = ByteReader(bytes, what: "pack header")
        guard Array(try reader.take(8)) == headerMagic else { throw .badMagic("pack") }
        let found = Int(try reader.uint16())
        guard supportedVersions.contains(found) else { throw .unsupportedVersion("pack", found: found, supported: supportedVersions) }
    }

    /// Reads the trailer length from a pack's last 16 bytes, checked against the pack's size.
    public static func trailerLength(footer: [UInt8], packSize: Int) throws(FormatError) -> Int {
        guard footer.count == footerLength else { throw .truncated("pack footer") }
        var reader = ByteReader(footer, what: "pack footer")
        let length = Int(try reader.uint32())
        _ = try reader.take(4)
        guard Array(try reader.take(8)) == footerMagic else { throw .badMagic("pack footer") }
        guard length > 0, length <= packSize - headerLength - footerLength else {
            throw .corrupt("pack footer", "trailer length \(length) does not fit a pack of \(packSize) bytes")
        }
        return length
    }

    /// Opens and parses a sealed trailer; every entry must lie inside the pack's blob region.
    public static func entries(sealedTrailer: [UInt8], packSize: Int, cipher: any AEADCipher) throws(FormatError) -> [PackEntry] {
        let plain: [UInt8]
        do { plain = try cipher.open(sealedTrailer, associatedData: trailerAssociatedData) } catch {
            throw .authenticationFailed("pack trailer")
        }
        var reader = ByteReader(plain, what: "pack trailer")
        let count = Int(try reader.uint32())
        guard count <= maximumEntries, count * entryLength == reader.remaining else {
            throw .corrupt("pack trailer", "entry count \(count) does not match its length")
        }
        let blobEnd = packSize - footerLength - sealedTrailer.count
        var entries = [PackEntry]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            guard let type = BlobType(rawValue: try reader.uint8()), let codec = StoredCodec(rawValue: try reader.uint8()) else {
                throw .corrupt("pack trailer", "unknown blob type or codec")
            }
            let id = ChunkID(bytes: try reader.take(32))
            let offset = Int(truncatingIfNeeded: try reader.uint64())
            let length = Int(try reader.uint32())
            let raw = Int(try reader.uint32())
            guard offset >= headerLength, length > 0, offset <= blobEnd - length else {
                throw .corrupt("pack trailer", "blob \(id.hex.prefix(16)) lies outside the pack")
            }
            entries.append(PackEntry(id: id, type: type, codec: codec, offset: offset, length: length, rawLength: raw))
        }
        return entries
    }
}

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
    /// For a chunk stored in a group frame (``ChunkGroupBuilder``): where its plaintext starts in
    /// the frame's plaintext; `offset` and `length` are then the frame's. Nil for a blob of its own.
    public let inner: Int?

    public init(id: ChunkID, type: BlobType, codec: StoredCodec, offset: Int, length: Int, rawLength: Int, inner: Int? = nil) {
        self.id = id
        self.type = type
        self.codec = codec
        self.offset = offset
        self.length = length
        self.rawLength = rawLength
        self.inner = inner
    }

    /// A pack's entries by the sealed bytes they live in: a blob's alone, a group frame's
    /// members together in order of their place in the frame; in order of offset.
    public static func byFrame(_ entries: [PackEntry]) -> [[PackEntry]] {
        var frames: [Int: [PackEntry]] = [:]
        for entry in entries where entry.inner != nil { frames[entry.offset, default: []].append(entry) }
        var result = entries.filter { $0.inner == nil }.map { [$0] }
        result += frames.values.map { $0.sorted { $0.inner! < $1.inner! } }
        return result.sorted { $0[0].offset < $1[0].offset }
    }

    /// The same entry at another offset in another pack (repacking).
    public func moved(to offset: Int) -> PackEntry {
        PackEntry(id: id, type: type, codec: codec, offset: offset, length: length, rawLength: rawLength, inner: inner)
    }
}

/// Pack file layout, version 3 (the repository format article has the table):
///
/// ```
/// header   16 B   "TNDMPACK" | version u16le | 6 zero bytes
/// blobs           sealed blobs and group frames back to back
/// trailer         sealed with the data key, AD "TNDMPTRL" | version u16le:
///                 count u32le | count × (type u8 | codec u8 | id 32 | offset u64le | length u32le | raw u32le
///                                        | inner u32le, 0xFFFFFFFF for a blob of its own)
/// footer   16 B   trailer length u32le | 4 zero bytes | "TNDMPEND"
/// ```
/// Version 1 (read, no longer written) has no `inner` field. Version 2 (read, no longer written)
/// has version 3's layout, but its group frames carry no member table (`ChunkGroupBuilder`):
/// 3 tells an older reader the frames are ones it cannot read. The trailer's associated data
/// carries the version, so a trailer cannot be read under another layout.
/// A pack is named by the SHA-256 of all its bytes, so anyone can verify it without a key.
public enum PackFormat {
    public static let version: UInt16 = 3
    public static let supportedVersions = 1...3
    public static let headerMagic = Array("TNDMPACK".utf8)
    public static let footerMagic = Array("TNDMPEND".utf8)
    public static let headerLength = 16
    public static let footerLength = 16
    static func entryLength(version: UInt16) -> Int { version == 1 ? 50 : 54 }
    static let standalone = UInt32.max
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

    static func trailerAssociatedData(version: UInt16) -> [UInt8] {
        var writer = ByteWriter()
        writer.append(Array("TNDMPTRL".utf8))
        writer.uint16(version)
        return writer.bytes
    }

    /// The sealed trailer and footer that end a pack.
    public static func trailer(entries: [PackEntry], cipher: any AEADCipher) throws -> [UInt8] {
        var plain = ByteWriter(capacity: 4 + entries.count * entryLength(version: version))
        plain.uint32(UInt32(entries.count))
        for entry in entries {
            plain.uint8(entry.type.rawValue)
            plain.uint8(entry.codec.rawValue)
            plain.append(entry.id.bytes)
            plain.uint64(UInt64(entry.offset))
            plain.uint32(UInt32(entry.length))
            plain.uint32(UInt32(entry.rawLength))
            plain.uint32(entry.inner.map { UInt32($0) } ?? standalone)
        }
        let sealed = try cipher.seal(plain.bytes, associatedData: trailerAssociatedData(version: version))
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
        var opened: (plain: [UInt8], version: UInt16)?
        for candidate in supportedVersions.reversed().map(UInt16.init) {
            if let plain = try? cipher.open(sealedTrailer, associatedData: trailerAssociatedData(version: candidate)) {
                opened = (plain, candidate)
                break
            }
        }
        guard let (plain, trailerVersion) = opened else { throw .authenticationFailed("pack trailer") }
        var reader = ByteReader(plain, what: "pack trailer")
        let count = Int(try reader.uint32())
        guard count <= maximumEntries, count * entryLength(version: trailerVersion) == reader.remaining else {
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
            let innerField = trailerVersion == 1 ? standalone : try reader.uint32()
            guard offset >= headerLength, length > 0, offset <= blobEnd - length else {
                throw .corrupt("pack trailer", "blob \(id.hex.prefix(16)) lies outside the pack")
            }
            var inner: Int?
            if innerField != standalone {
                guard Int(innerField) + raw <= ChunkGroupBuilder.maximumRawLength else {
                    throw .corrupt("pack trailer", "chunk \(id.hex.prefix(16)) lies outside its group")
                }
                inner = Int(innerField)
            }
            entries.append(PackEntry(id: id, type: type, codec: codec, offset: offset, length: length, rawLength: raw, inner: inner))
        }
        return entries
    }
}

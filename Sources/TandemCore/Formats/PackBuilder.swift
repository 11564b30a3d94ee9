import TandemCodecs

/// A finished pack: its bytes, its content address and what it holds.
public struct FinishedPack: Sendable {
    /// Hex SHA-256 of ``bytes``: the pack's name.
    public let name: String
    public let bytes: [UInt8]
    public let entries: [PackEntry]
}

/// Collects sealed blobs into one pack in memory until it reaches its target size: for prune's
/// repacking and tests (backups stream packs to disk instead, see `PackSink`).
///
/// Pure: it only builds bytes. The store decides when a pack is written and makes it durable.
public struct PackBuilder {
    /// A pack is finished once it holds at least this many bytes (default 16 MiB, the design's
    /// lower bound; a 2 TiB tenant still needs only ~130,000 pack files).
    public let targetSize: Int
    private var buffer: [UInt8]
    private var entries: [PackEntry] = []

    public init(targetSize: Int = 16 << 20) {
        self.targetSize = targetSize
        buffer = PackFormat.header()
        buffer.reserveCapacity(min(targetSize + (1 << 20), 80 << 20))
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var isFull: Bool { buffer.count >= targetSize }
    public var blobCount: Int { entries.count }
    public var byteCount: Int { buffer.count }

    /// Appends one sealed blob.
    public mutating func append(_ blob: SealedBlob) {
        entries.append(PackEntry(id: blob.id, type: blob.type, codec: blob.codec, offset: buffer.count,
                                 length: blob.bytes.count, rawLength: blob.rawLength))
        buffer.append(contentsOf: blob.bytes)
    }

    /// Appends a sealed group frame, one entry per member.
    public mutating func append(_ group: SealedGroup, type: BlobType = .data) {
        for member in group.members {
            entries.append(PackEntry(id: member.id, type: type, codec: .zstd, offset: buffer.count, length: group.bytes.count,
                                     rawLength: member.rawLength, inner: member.inner))
        }
        buffer.append(contentsOf: group.bytes)
    }

    /// Appends a blob or group frame already sealed elsewhere (repacking copies them without
    /// re-encrypting), with the entries it holds: one for a blob, one per member for a group.
    public mutating func append(sealed bytes: ArraySlice<UInt8>, entries held: [PackEntry]) {
        for entry in held {
            precondition(entry.length == bytes.count, "PackBuilder.append: entry length differs from the sealed bytes")
            entries.append(entry.moved(to: buffer.count))
        }
        buffer.append(contentsOf: bytes)
    }

    /// Seals the trailer, names the pack and resets the builder for the next one.
    public mutating func finish(cipher: any AEADCipher) throws -> FinishedPack {
        let trailer = try PackFormat.trailer(entries: entries, cipher: cipher)
        // Move the buffer out before appending, so the pack is never copied.
        var bytes = buffer
        buffer = []
        bytes.append(contentsOf: trailer)
        let name = Hex.encode(Hasher256.hash(.sha256, bytes))
        let pack = FinishedPack(name: name, bytes: bytes, entries: entries)
        buffer = PackFormat.header()
        buffer.reserveCapacity(min(targetSize + (1 << 20), 80 << 20))
        entries = []
        return pack
    }
}

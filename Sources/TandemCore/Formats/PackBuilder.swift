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

    /// Appends a blob already sealed elsewhere (repacking copies blobs without re-encrypting).
    public mutating func append(sealed bytes: ArraySlice<UInt8>, entry: PackEntry) {
        entries.append(PackEntry(id: entry.id, type: entry.type, codec: entry.codec, offset: buffer.count,
                                 length: bytes.count, rawLength: entry.rawLength))
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

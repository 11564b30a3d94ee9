import Foundation

/// One chunk of a file or stream, in order: its ID and plaintext length.
public struct ChunkRef: Sendable, Equatable {
    public let id: ChunkID
    public let length: Int

    public init(id: ChunkID, length: Int) {
        self.id = id
        self.length = length
    }
}

/// A chunk-list blob a long ``ChunkList`` is stored in: its ID, how many chunk references it
/// holds and how many plaintext bytes they cover.
public struct ChunkListRef: Sendable, Equatable {
    public let id: ChunkID
    public let count: Int
    public let length: Int

    public init(id: ChunkID, count: Int, length: Int) {
        self.id = id
        self.count = count
        self.length = length
    }
}

/// The chunks of one file or stream, in order.
///
/// Short lists are stored inline in the manifest (base64 of 36-byte records). A list longer than
/// ``inlineLimit`` is stored in chunk-list blobs of at most that many references each (sealed and
/// packed like data, blob type `chunkList`), and the manifest keeps only their references. So a
/// 2 TiB image's manifest stays a few hundred KiB, and no step ever holds all its chunk IDs.
public struct ChunkList: Sendable, Equatable, Codable {
    /// References per chunk-list blob, and the most a manifest holds inline (16384 ≈ 1 GiB of
    /// data at the default 64 KiB average; one blob is 576 KiB).
    public static let inlineLimit = 16384

    /// The references, when stored inline.
    public private(set) var refs: [ChunkRef]
    /// The chunk-list blobs, when stored indirectly (``refs`` is then empty).
    public private(set) var lists: [ChunkListRef]

    public init(_ refs: [ChunkRef] = []) {
        self.refs = refs
        lists = []
    }

    public init(lists: [ChunkListRef]) {
        refs = []
        self.lists = lists
    }

    public var isIndirect: Bool { !lists.isEmpty }
    public var isEmpty: Bool { refs.isEmpty && lists.isEmpty }
    /// Number of chunks.
    public var count: Int { isIndirect ? lists.reduce(0) { $0 + $1.count } : refs.count }
    /// Total plaintext bytes.
    public var totalLength: Int { isIndirect ? lists.reduce(0) { $0 + $1.length } : refs.reduce(0) { $0 + $1.length } }

    private enum Keys: String, CodingKey { case lists }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            self.init(try ChunkListCodec.decode(Self.base64(text, decoder), what: "chunk list"))
            return
        }
        let text = try decoder.container(keyedBy: Keys.self).decode(String.self, forKey: .lists)
        guard let lists = Self.decodedLists(try Self.base64(text, decoder)) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad chunk-list references"))
        }
        self.init(lists: lists)
    }

    /// Reads ``encodedLists()``'s records; nil unless there is at least one and each names 1 to
    /// ``inlineLimit`` chunks and a length that fits.
    static func decodedLists(_ bytes: [UInt8]) -> [ChunkListRef]? {
        guard bytes.count % 48 == 0, !bytes.isEmpty else { return nil }
        var reader = ByteReader(bytes, what: "chunk-list references")
        var lists: [ChunkListRef] = []
        while reader.remaining > 0 {
            guard let id = try? ChunkID(bytes: reader.take(32)), let count = try? Int(reader.uint32()),
                  (try? reader.uint32()) != nil, let length = try? Int(truncatingIfNeeded: reader.uint64()),
                  count > 0, count <= inlineLimit, length >= 0 else { return nil }
            lists.append(ChunkListRef(id: id, count: count, length: length))
        }
        return lists
    }

    /// The chunk-list references as stored: 48-byte records `id (32) | count u32le | 0 u32 | length u64le`.
    func encodedLists() -> Data {
        var writer = ByteWriter(capacity: lists.count * 48)
        for list in lists {
            writer.append(list.id.bytes)
            writer.uint32(UInt32(list.count))
            writer.uint32(0)
            writer.uint64(UInt64(list.length))
        }
        return Data(writer.bytes)
    }

    public func encode(to encoder: any Encoder) throws {
        if isIndirect {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(encodedLists().base64EncodedString(), forKey: .lists)
        } else {
            var container = encoder.singleValueContainer()
            try container.encode(Data(ChunkListCodec.encode(refs)).base64EncodedString())
        }
    }

    private static func base64(_ text: String, _ decoder: any Decoder) throws -> [UInt8] {
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad base64"))
        }
        return [UInt8](data)
    }
}

/// The bytes of a chunk list: 36-byte records `id (32) | length u32le`, in order. Used inline in
/// manifests and as the plaintext of chunk-list blobs.
public enum ChunkListCodec {
    public static func encode(_ refs: [ChunkRef]) -> [UInt8] {
        var writer = ByteWriter(capacity: refs.count * 36)
        for ref in refs {
            writer.append(ref.id.bytes)
            writer.uint32(UInt32(ref.length))
        }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8], what: String) throws(FormatError) -> [ChunkRef] {
        guard bytes.count % 36 == 0 else { throw .corrupt(what, "length \(bytes.count) is not a multiple of 36") }
        var reader = ByteReader(bytes, what: what)
        var refs: [ChunkRef] = []
        refs.reserveCapacity(bytes.count / 36)
        while reader.remaining > 0 {
            let id = ChunkID(bytes: try reader.take(32))
            refs.append(ChunkRef(id: id, length: Int(try reader.uint32())))
        }
        return refs
    }
}

/// What a snapshot captured.
public enum SourceKind: String, Sendable, Codable {
    /// One byte stream: an image file, a block device, stdin.
    case stream
    /// A directory tree.
    case tree
}

/// The kind of a directory-tree entry.
public enum EntryType: String, Sendable, Codable {
    case file, directory, symlink
}

/// One file, directory or symlink of a tree snapshot, with the metadata restore puts back.
public struct TreeEntry: Sendable, Equatable, Codable {
    /// Path relative to the snapshot root, `/`-separated; "" is the root itself.
    public var path: String
    public var type: EntryType
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtimeNanoseconds: Int64
    /// ctime, inode and device are not restored; with size and mtime they tell the next backup
    /// that a file is unchanged without reading it.
    public var ctimeNanoseconds: Int64
    public var inode: UInt64
    public var device: UInt64
    public var size: Int64
    public var symlinkTarget: String?
    public var chunks: ChunkList?
    /// Extended attributes (name -> value), when the backup was asked to keep them.
    public var xattrs: [String: Data]?

    public init(path: String, type: EntryType, mode: UInt32, uid: UInt32, gid: UInt32, mtimeNanoseconds: Int64,
                ctimeNanoseconds: Int64, inode: UInt64, device: UInt64, size: Int64, symlinkTarget: String? = nil,
                chunks: ChunkList? = nil, xattrs: [String: Data]? = nil) {
        self.path = path
        self.type = type
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtimeNanoseconds = mtimeNanoseconds
        self.ctimeNanoseconds = ctimeNanoseconds
        self.inode = inode
        self.device = device
        self.size = size
        self.symlinkTarget = symlinkTarget
        self.chunks = chunks
        self.xattrs = xattrs
    }
}

/// Counters of one backup run, as `backup --json` reports them.
public struct BackupSummary: Sendable, Equatable, Codable {
    public var bytesRead: Int64 = 0
    /// Plaintext bytes whose chunks were not already stored.
    public var bytesNew: Int64 = 0
    /// Bytes added to the repository (packs plus the manifest).
    public var bytesStored: Int64 = 0
    public var chunks: Int = 0
    public var chunksNew: Int = 0
    public var files: Int = 0
    /// Files taken unchanged from the parent snapshot without reading them.
    public var filesUnchanged: Int = 0
    public var seconds: Double = 0
    /// Entries of a tree that could not be read (permission, vanished, I/O) and are missing
    /// from the snapshot, which is then incomplete; nil (left out of the JSON) when none.
    public var entriesUnreadable: Int?

    public init() {}
}

/// A snapshot: what was backed up, when, and the chunks that rebuild it. Stored sealed with the
/// manifest key (``ManifestCodec``); its ID is the SHA-256 of the stored bytes.
public struct SnapshotManifest: Sendable, Equatable, Codable {
    public var tenant: String
    public var time: Date
    public var hostname: String
    /// The source as given on the command line (absolute when it is a path; "-" for stdin).
    public var source: String
    public var kind: SourceKind
    public var tags: [String: String]
    /// The snapshot a tree backup compared against to skip unchanged files.
    public var parent: String?
    /// The stream's chunks (for `stream` snapshots).
    public var stream: ChunkList?
    /// The tree's entries in walk order, parents before children (for `tree` snapshots).
    public var tree: [TreeEntry]?
    public var summary: BackupSummary

    public init(tenant: String, time: Date, hostname: String, source: String, kind: SourceKind,
                tags: [String: String] = [:], parent: String? = nil, stream: ChunkList? = nil,
                tree: [TreeEntry]? = nil, summary: BackupSummary = BackupSummary()) {
        self.tenant = tenant
        self.time = time
        self.hostname = hostname
        self.source = source
        self.kind = kind
        self.tags = tags
        self.parent = parent
        self.stream = stream
        self.tree = tree
        self.summary = summary
    }

    /// Every chunk list of the snapshot: the stream's, or each file's.
    public var chunkLists: [ChunkList] {
        if let stream { return [stream] }
        return (tree ?? []).compactMap(\.chunks)
    }
}

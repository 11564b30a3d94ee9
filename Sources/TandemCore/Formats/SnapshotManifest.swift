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

/// A list of chunk references, encoded compactly (base64 of 36-byte records) because an image
/// has tens of thousands of them.
public struct ChunkList: Sendable, Equatable, Codable {
    public var refs: [ChunkRef]

    public init(_ refs: [ChunkRef] = []) { self.refs = refs }

    /// Total plaintext bytes.
    public var totalLength: Int { refs.reduce(0) { $0 + $1.length } }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let data = Data(base64Encoded: text), data.count % 36 == 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad chunk list"))
        }
        let bytes = [UInt8](data)
        refs = stride(from: 0, to: bytes.count, by: 36).map { start in
            let length = Int(bytes[start + 32]) | Int(bytes[start + 33]) << 8 | Int(bytes[start + 34]) << 16 | Int(bytes[start + 35]) << 24
            return ChunkRef(id: ChunkID(bytes: bytes[start ..< start + 32]), length: length)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var writer = ByteWriter(capacity: refs.count * 36)
        for ref in refs {
            writer.append(ref.id.bytes)
            writer.uint32(UInt32(ref.length))
        }
        var container = encoder.singleValueContainer()
        try container.encode(Data(writer.bytes).base64EncodedString())
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

    /// Every chunk the snapshot references (with repeats).
    public var allChunks: [ChunkRef] {
        (stream?.refs ?? []) + (tree ?? []).flatMap { $0.chunks?.refs ?? [] }
    }
}

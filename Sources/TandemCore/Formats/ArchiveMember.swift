/// One member of an archive `dump` writes (``PaxTar``, ``ZipArchive``): a path of the
/// snapshot with its metadata, its bytes streamed after the member's header.
public struct ArchiveMember: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case file, directory, symlink
        /// A hard link to the member named by `linkTarget`, written earlier in the archive.
        case hardLink
    }

    public var path: [UInt8]
    public var kind: Kind
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var mtimeNanoseconds: Int64
    /// Bytes that follow the header (files only).
    public var size: Int64
    public var linkTarget: [UInt8]
    public var xattrs: [(name: String, value: [UInt8])]

    public init(path: [UInt8], kind: Kind, mode: UInt32, uid: UInt32, gid: UInt32, mtimeNanoseconds: Int64, size: Int64 = 0,
                linkTarget: [UInt8] = [], xattrs: [(name: String, value: [UInt8])] = []) {
        self.path = path
        self.kind = kind
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.mtimeNanoseconds = mtimeNanoseconds
        self.size = size
        self.linkTarget = linkTarget
        self.xattrs = xattrs
    }

    public static func == (a: ArchiveMember, b: ArchiveMember) -> Bool {
        a.path == b.path && a.kind == b.kind && a.mode == b.mode && a.uid == b.uid && a.gid == b.gid
            && a.mtimeNanoseconds == b.mtimeNanoseconds && a.size == b.size && a.linkTarget == b.linkTarget
            && a.xattrs.map(\.name) == b.xattrs.map(\.name) && a.xattrs.map(\.value) == b.xattrs.map(\.value)
    }
}

import Foundation

/// The namespace a mounted repository shows, as inodes: the root, `snapshots/`, one directory
/// per snapshot (`2026-12-07T20:09:52Z-3fa1c2d4`, with `latest` a symlink to the newest), and in
/// each the snapshot's own entries: a tree's files, directories and symlinks with their modes,
/// owners, mtimes and xattrs, or an image as one file. A snapshot's entries are filled in when
/// its directory is first looked at (``populate(_:tree:)``), so mounting a repository of many
/// snapshots reads no manifest up front. Files that shared an inode in the snapshot share one
/// here (hard links, with their link count). Pure: the mount feeds it manifests.
public struct MountTree: Sendable {
    /// What a node is.
    public enum Kind: Sendable, Equatable { case directory, file, symlink }

    /// What `stat` shows of a node.
    public struct Attributes: Sendable, Equatable {
        public var kind: Kind
        /// Permission bits (and setuid, setgid, sticky).
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        public var size: Int64
        public var mtimeNanoseconds: Int64
        public var links: UInt32
    }

    /// What a file reads as, or where a symlink points.
    public enum Content: Sendable, Equatable {
        case none
        /// The bytes `list` names, in snapshot `snapshot`.
        case chunks(snapshot: String, list: ChunkList)
        case link([UInt8])
    }

    /// One inode.
    public struct Node: Sendable {
        public let inode: UInt64
        public var parent: UInt64
        public var attributes: Attributes
        public var content: Content
        public var xattrs: [(name: String, value: [UInt8])]
        /// A directory's entries in order (name → inode).
        public var children: [(name: [UInt8], inode: UInt64)]
        var childIndex: [[UInt8]: UInt64]
        /// A snapshot's directory whose entries are not read yet: that snapshot.
        public var pending: Snapshot?
    }

    /// A snapshot as the mount lists it.
    public struct Snapshot: Sendable {
        public var id: String
        public var time: Date
        /// An image (its file is named `imageName`) or a tree.
        public var isImage: Bool
        public var imageName: String

        public init(id: String, time: Date, isImage: Bool, imageName: String) {
            self.id = id
            self.time = time
            self.isImage = isImage
            self.imageName = imageName
        }
    }

    public static let rootInode: UInt64 = 1
    public private(set) var nodes: [UInt64: Node] = [:]
    private var nextInode: UInt64 = 2

    /// The root and `snapshots/` with a directory per snapshot, owned by `uid`/`gid` (the
    /// mounting user) and dated `now`; read-only (0555; the root `rootMode`).
    public init(snapshots: [Snapshot], uid: UInt32, gid: UInt32, nowNanoseconds: Int64, rootMode: UInt32 = 0o555) {
        let directory = Attributes(kind: .directory, mode: 0o555, uid: uid, gid: gid, size: 0, mtimeNanoseconds: nowNanoseconds, links: 2)
        var root = directory
        root.mode = rootMode
        nodes[Self.rootInode] = Node(inode: Self.rootInode, parent: Self.rootInode, attributes: root, content: .none, xattrs: [],
                                     children: [], childIndex: [:])
        let list = add(named: Array("snapshots".utf8), in: Self.rootInode, attributes: directory)
        for snapshot in snapshots.sorted(by: { ($0.time, $0.id) < ($1.time, $1.id) }) {
            var attributes = directory
            attributes.mtimeNanoseconds = Int64(snapshot.time.timeIntervalSince1970 * 1e9)
            let inode = add(named: Self.directoryName(snapshot), in: list, attributes: attributes)
            nodes[inode]?.pending = snapshot
        }
        if let newest = snapshots.max(by: { ($0.time, $0.id) < ($1.time, $1.id) }) {
            var link = directory
            link.kind = .symlink
            link.mode = 0o777
            link.links = 1
            let target = Self.directoryName(newest)
            link.size = Int64(target.count)
            let inode = add(named: Array("latest".utf8), in: list, attributes: link)
            nodes[inode]?.content = .link(target)
        }
    }

    /// `2026-12-07T20:09:52Z-3fa1c2d4`: the snapshot's time (UTC) and the first 8 digits of its ID.
    public static func directoryName(_ snapshot: Snapshot) -> [UInt8] {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return Array("\(formatter.string(from: snapshot.time))-\(snapshot.id.prefix(8))".utf8)
    }

    public func node(_ inode: UInt64) -> Node? { nodes[inode] }

    /// The inode of `name` in the directory `parent`.
    public func lookup(_ parent: UInt64, _ name: [UInt8]) -> UInt64? { nodes[parent]?.childIndex[name] }

    /// Fills in a tree snapshot's directory from its entries (checked safe by ``TreeLayout``
    /// first): the root entry's metadata becomes the directory's own.
    public mutating func populate(_ inode: UInt64, tree entries: [TreeEntry]) throws(FormatError) {
        guard let id = nodes[inode]?.pending?.id else { return }
        if let problem = TreeLayout.firstProblem(entries) { throw .corrupt("snapshot \(id.prefix(12))", "\(problem)") }
        nodes[inode]?.pending = nil
        var byPath: [String: UInt64] = ["": inode]
        var byFileInode: [String: UInt64] = [:]
        for entry in entries {
            var attributes = Attributes(kind: .file, mode: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid, size: 0,
                                        mtimeNanoseconds: entry.mtimeNanoseconds, links: 1)
            let xattrs = (entry.xattrs ?? [:]).sorted { $0.key < $1.key }.map { (name: $0.key, value: [UInt8]($0.value)) }
            if entry.path.isEmpty {
                nodes[inode]?.attributes.mode = attributes.mode
                nodes[inode]?.attributes.uid = attributes.uid
                nodes[inode]?.attributes.gid = attributes.gid
                nodes[inode]?.attributes.mtimeNanoseconds = attributes.mtimeNanoseconds
                nodes[inode]?.xattrs = xattrs
                continue
            }
            let slash = entry.path.lastIndex(of: "/")
            let parentPath = slash.map { String(entry.path[..<$0]) } ?? ""
            let name = FileNameBytes.bytes(slash.map { String(entry.path[entry.path.index(after: $0)...]) } ?? entry.path)
            let parent = byPath[parentPath] ?? makeDirectories(parentPath, under: inode, byPath: &byPath)
            switch entry.type {
            case .directory:
                attributes.kind = .directory
                attributes.links = 2
                let child = add(named: name, in: parent, attributes: attributes)
                nodes[child]?.xattrs = xattrs
                byPath[entry.path] = child
            case .symlink:
                attributes.kind = .symlink
                let target = FileNameBytes.bytes(entry.symlinkTarget ?? "")
                attributes.size = Int64(target.count)
                let child = add(named: name, in: parent, attributes: attributes)
                nodes[child]?.content = .link(target)
                nodes[child]?.xattrs = xattrs
            case .file:
                let key = "\(entry.device):\(entry.inode)"
                if entry.inode != 0, let linked = byFileInode[key] {
                    link(linked, named: name, in: parent)
                    continue
                }
                let list = entry.chunks ?? ChunkList()
                attributes.size = Int64(list.totalLength)
                let child = add(named: name, in: parent, attributes: attributes)
                nodes[child]?.content = .chunks(snapshot: id, list: list)
                nodes[child]?.xattrs = xattrs
                if entry.inode != 0 { byFileInode[key] = child }
            }
        }
    }

    /// Fills in an image snapshot's directory: one file (``Snapshot/imageName``) of the image's
    /// bytes, owned by `uid`/`gid`, read-only.
    public mutating func populate(_ inode: UInt64, image list: ChunkList, uid: UInt32, gid: UInt32) {
        guard let directory = nodes[inode], let snapshot = directory.pending else { return }
        nodes[inode]?.pending = nil
        let attributes = Attributes(kind: .file, mode: 0o444, uid: uid, gid: gid, size: Int64(list.totalLength),
                                    mtimeNanoseconds: directory.attributes.mtimeNanoseconds, links: 1)
        let child = add(named: Array(snapshot.imageName.utf8), in: inode, attributes: attributes)
        nodes[child]?.content = .chunks(snapshot: snapshot.id, list: list)
    }

    /// A new node `name` in `parent`; a directory adds to its parent's link count.
    @discardableResult
    private mutating func add(named name: [UInt8], in parent: UInt64, attributes: Attributes) -> UInt64 {
        let inode = nextInode
        nextInode += 1
        nodes[inode] = Node(inode: inode, parent: parent, attributes: attributes, content: .none, xattrs: [], children: [], childIndex: [:])
        nodes[parent]?.children.append((name, inode))
        nodes[parent]?.childIndex[name] = inode
        if attributes.kind == .directory { nodes[parent]?.attributes.links += 1 }
        return inode
    }

    /// Another name for the file `inode` (a hard link).
    private mutating func link(_ inode: UInt64, named name: [UInt8], in parent: UInt64) {
        nodes[parent]?.children.append((name, inode))
        nodes[parent]?.childIndex[name] = inode
        nodes[inode]?.attributes.links += 1
    }

    /// Directories a tree left implied (its entries name a child before, or without, its parent).
    private mutating func makeDirectories(_ path: String, under root: UInt64, byPath: inout [String: UInt64]) -> UInt64 {
        var parent = root
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix = prefix.isEmpty ? String(part) : prefix + "/" + part
            if let known = byPath[prefix] {
                parent = known
                continue
            }
            let attributes = Attributes(kind: .directory, mode: 0o755, uid: nodes[root]?.attributes.uid ?? 0, gid: nodes[root]?.attributes.gid ?? 0,
                                        size: 0, mtimeNanoseconds: nodes[root]?.attributes.mtimeNanoseconds ?? 0, links: 2)
            parent = add(named: FileNameBytes.bytes(String(part)), in: parent, attributes: attributes)
            byPath[prefix] = parent
        }
        return parent
    }
}

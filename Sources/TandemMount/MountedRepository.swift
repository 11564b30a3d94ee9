import Foundation
import Logging
import TandemCore
import TandemStore
#if canImport(Glibc)
import Glibc
#endif

/// One tenant's snapshots as a read-only file system's answers: the namespace (``MountTree``),
/// filled in from each snapshot's manifest when first looked at, and open files read chunk by
/// chunk through one shared ``ChunkSource`` (the tenant lock held shared until ``close()``).
/// Every answer is a value or an errno, which the FUSE session sends to the kernel.
public actor MountedRepository: MountFileSystem {
    /// An errno for the kernel.
    public typealias Errno = MountTree.Errno

    private let source: ChunkSource
    private var tree: MountTree
    private var files: [UInt64: SnapshotImage] = [:]
    /// Readers of files the kernel opened itself, by inode, the least recently read dropped first.
    private var byInode: [UInt64: (file: SnapshotImage, used: Int)] = [:]
    private var tick = 0
    static let filesByInode = 256
    private var nextHandle: UInt64 = 1
    private let logger: Logger
    private let uid: UInt32
    private let gid: UInt32

    /// Opens the tenant's snapshots for reading, taking its lock shared. The root, the
    /// snapshots' directories and images belong to `owner` (default: this process's user);
    /// with an owner given, the root is 0500, so only that user (and root) may enter.
    public static func open(tenant: TenantRepository, cacheLimit: Int = 64 << 20, logger: Logger,
                            owner: (uid: UInt32, gid: UInt32)? = nil) async throws -> MountedRepository {
        let source = try await ChunkSource.open(tenant: tenant, cacheLimit: cacheLimit)
        do {
            let snapshots = try await tenant.snapshots().map { record in
                MountTree.Snapshot(id: record.id, time: record.time, isImage: record.kind == .stream,
                                   imageName: Self.imageName(record.source))
            }
            return MountedRepository(source: source, snapshots: snapshots, logger: logger, owner: owner)
        } catch {
            await source.close()
            throw error
        }
    }

    private init(source: ChunkSource, snapshots: [MountTree.Snapshot], logger: Logger, owner: (uid: UInt32, gid: UInt32)?) {
        self.source = source
        uid = owner?.uid ?? getuid()
        gid = owner?.gid ?? getgid()
        tree = MountTree(snapshots: snapshots, uid: uid, gid: gid, nowNanoseconds: Int64(Date().timeIntervalSince1970 * 1e9),
                         rootMode: owner == nil ? 0o555 : 0o500)
        self.logger = logger
    }

    /// An image snapshot's file name: the last part of its source path (`stdin` for `-`).
    static func imageName(_ source: String) -> String {
        let last = source.split(separator: "/").last.map(String.init) ?? ""
        return last.isEmpty || last == "-" ? "stdin" : last
    }

    /// Closes every open file and releases the tenant lock.
    public func close() async {
        for file in files.values { await file.close() }
        files = [:]
        byInode = [:]
        await source.close()
    }

    /// A node's attributes, its snapshot's entries read first if it is a snapshot's directory.
    public func attributes(_ inode: UInt64) async -> Result<MountTree.Attributes, Errno> {
        guard let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        return .success(node.attributes)
    }

    /// `name` in the directory `parent`: its inode and attributes.
    public func lookup(_ parent: UInt64, _ name: [UInt8]) async -> Result<(UInt64, MountTree.Attributes), Errno> {
        if let failure = await populate(parent) { return .failure(failure) }
        guard let inode = tree.lookup(parent, name), let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        return .success((inode, node.attributes))
    }

    /// A directory's entries, `.` and `..` first.
    public func entries(_ inode: UInt64) async -> Result<[MountWire.Entry], Errno> {
        if let failure = await populate(inode) { return .failure(failure) }
        guard let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        guard node.attributes.kind == .directory else { return .failure(Errno(ENOTDIR)) }
        var out = [MountWire.Entry(name: [46], inode: inode, kind: .directory), MountWire.Entry(name: [46, 46], inode: node.parent, kind: .directory)]
        out.reserveCapacity(node.children.count + 2)
        for (name, child) in node.children {
            out.append(MountWire.Entry(name: name, inode: child, kind: tree.node(child)?.attributes.kind ?? .file))
        }
        return .success(out)
    }

    /// A directory's entries with their attributes, `.` and `..` first.
    public func entriesPlus(_ inode: UInt64) async -> Result<[MountWire.EntryPlus], Errno> {
        if let failure = await populate(inode) { return .failure(failure) }
        guard let node = tree.node(inode), let parent = tree.node(node.parent) else { return .failure(Errno(ENOENT)) }
        guard node.attributes.kind == .directory else { return .failure(Errno(ENOTDIR)) }
        var out = [MountWire.EntryPlus(name: [46], inode: inode, attributes: node.attributes),
                   MountWire.EntryPlus(name: [46, 46], inode: node.parent, attributes: parent.attributes)]
        out.reserveCapacity(node.children.count + 2)
        for (name, child) in node.children {
            guard let attributes = tree.node(child)?.attributes else { continue }
            out.append(MountWire.EntryPlus(name: name, inode: child, attributes: attributes))
        }
        return .success(out)
    }

    /// Where a symlink points.
    public func target(_ inode: UInt64) -> Result<[UInt8], Errno> {
        guard let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        guard case .link(let target) = node.content else { return .failure(Errno(EINVAL)) }
        return .success(target)
    }

    /// Opens a file for reading; writing is refused (EROFS).
    public func open(_ inode: UInt64, flags: Int32) -> Result<UInt64, Errno> {
        guard flags & O_ACCMODE == O_RDONLY, flags & O_TRUNC == 0 else { return .failure(Errno(EROFS)) }
        guard let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        guard case .chunks(let snapshot, let list) = node.content else { return .failure(Errno(node.attributes.kind == .directory ? EISDIR : EINVAL)) }
        do {
            let file = try SnapshotImage(source: source, id: snapshot, list: list)
            let handle = nextHandle
            nextHandle += 1
            files[handle] = file
            return .success(handle)
        } catch {
            logger.error("cannot open a file of the snapshot", metadata: ["snapshot": "\(snapshot.prefix(12))", "error": "\(error)"])
            return .failure(Errno(EIO))
        }
    }

    /// Up to `length` bytes at `offset` of a file (fewer at its end), by its handle, or by its
    /// inode when the handle is 0 (the kernel opens files itself); a chunk that fails
    /// authentication or cannot be read is EIO, never wrong bytes.
    public func read(_ inode: UInt64, handle: UInt64, offset: Int, length: Int) async -> Result<[UInt8], Errno> {
        let file: SnapshotImage
        switch handle == 0 ? self.file(inode) : files[handle].map { .success($0) } ?? .failure(Errno(EBADF)) {
        case .success(let found): file = found
        case .failure(let failure): return .failure(failure)
        }
        let size = file.size
        guard offset < size, length > 0 else { return .success([]) }
        do {
            return .success(try await file.read(offset: offset, length: min(length, size - offset)))
        } catch {
            logger.error("a read of a mounted file failed", metadata: ["snapshot": "\(file.snapshotID.prefix(12))", "offset": "\(offset)",
                                                                       "error": "\(error)"])
            return .failure(Errno(EIO))
        }
    }

    /// The reader of file `inode` for reads without a handle: made on first use and kept for
    /// the most recently read files (a reader holds no chunk, only the file's chunk list).
    private func file(_ inode: UInt64) -> Result<SnapshotImage, Errno> {
        tick += 1
        if let known = byInode[inode] {
            byInode[inode]?.used = tick
            return .success(known.file)
        }
        guard let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        guard case .chunks(let snapshot, let list) = node.content else { return .failure(Errno(node.attributes.kind == .directory ? EISDIR : EINVAL)) }
        do {
            let file = try SnapshotImage(source: source, id: snapshot, list: list)
            if byInode.count >= Self.filesByInode, let oldest = byInode.min(by: { $0.value.used < $1.value.used }) {
                byInode[oldest.key] = nil
            }
            byInode[inode] = (file, tick)
            return .success(file)
        } catch {
            logger.error("cannot open a file of the snapshot", metadata: ["snapshot": "\(snapshot.prefix(12))", "error": "\(error)"])
            return .failure(Errno(EIO))
        }
    }

    /// Forgets an open file.
    public func release(_ handle: UInt64) async {
        await files.removeValue(forKey: handle)?.close()
    }

    /// The value of extended attribute `name`.
    public func xattr(_ inode: UInt64, _ name: String) -> Result<[UInt8], Errno> {
        guard let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        guard let value = node.xattrs.first(where: { $0.name == name })?.value else { return .failure(Errno(ENODATA)) }
        return .success(value)
    }

    /// The names of a node's extended attributes, each ended by a NUL byte.
    public func xattrNames(_ inode: UInt64) -> Result<[UInt8], Errno> {
        guard let node = tree.node(inode) else { return .failure(Errno(ENOENT)) }
        return .success(node.xattrs.flatMap { Array($0.name.utf8) + [0] })
    }

    /// Reads a snapshot's manifest into the tree the first time its directory is looked at.
    private func populate(_ inode: UInt64) async -> Errno? {
        guard let snapshot = tree.node(inode)?.pending else { return nil }
        do {
            let manifest = try await source.tenant.loadManifest(snapshot.id)
            if snapshot.isImage {
                tree.populate(inode, image: manifest.stream ?? ChunkList(), uid: uid, gid: gid)
            } else {
                try tree.populate(inode, tree: manifest.tree ?? [])
            }
            return nil
        } catch {
            logger.error("cannot read a snapshot's manifest", metadata: ["snapshot": "\(snapshot.id.prefix(12))", "error": "\(error)"])
            return Errno(EIO)
        }
    }
}

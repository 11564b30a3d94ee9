import CFuse
import Foundation
import NIOPosix
import Synchronization
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// A FUSE mount of a ``MountFileSystem`` (a ``MountedRepository`` here, or tandemd's through a
/// ``RemoteFileSystem``), on libfuse's low-level API: libfuse's loop reads the kernel's
/// requests on a thread of NIO's blocking pool, each request is answered by a task that asks
/// the file system, so a slow chunk fetch never holds up a `stat` behind it.
/// Read-only (`ro`), with the kernel checking modes and owners (`default_permissions`).
public final class FuseSession: @unchecked Sendable {
    // The session pointer is used by the loop thread and by `unmount()`, which libfuse allows.
    private let session: OpaquePointer
    private let repository: Unmanaged<FileSystemBox>
    public let mountPoint: String
    private let unmounted = Atomic<Bool>(false)

    /// Mounts `repository` at `mountPoint` (checked by ``MountPoint/check(_:)`` first);
    /// `name` shows as the file system's source in /proc/mounts.
    public init(repository: any MountFileSystem, at mountPoint: String, name: String) throws {
        try MountPoint.check(mountPoint)
        var ops = fuse_lowlevel_ops()
        Self.install(&ops)
        var options = "ro,default_permissions,fsname=\(name.replacingOccurrences(of: ",", with: "_")),subtype=tandem"
        if getuid() == 0 { options += ",allow_other" }
        let retained = Unmanaged.passRetained(FileSystemBox(repository))
        guard let session = tandem_fuse_session_new(options, &ops, retained.toOpaque()) else {
            retained.release()
            throw MountError.cannotMount(mountPoint, "libfuse refused the session (see above)")
        }
        guard fuse_session_mount(session, mountPoint) == 0 else {
            fuse_session_destroy(session)
            retained.release()
            throw MountError.cannotMount(mountPoint, "the kernel refused the mount (is /dev/fuse usable, and are you root or in the fuse group?)")
        }
        self.session = session
        self.repository = retained
        self.mountPoint = mountPoint
    }

    /// Answers the kernel until the file system is unmounted (``unmount()`` or `umount`).
    public func run() async throws {
        let session = UncheckedPointer(session)
        let status = try await NIOThreadPool.singleton.runIfActive { fuse_session_loop(session.raw) }
        guard status >= 0 else { throw MountError.loopFailed(mountPoint, String(cString: strerror(-status))) }
    }

    /// Unmounts (once, however many ask); ``run()`` returns once the kernel lets go.
    public func unmount() {
        guard !unmounted.exchange(true, ordering: .acquiringAndReleasing) else { return }
        fuse_session_exit(session)
        fuse_session_unmount(session)
    }

    deinit {
        fuse_session_destroy(session)
        repository.release()
    }

    /// The low-level operations: each hands its request to a task.
    private static func install(_ ops: inout fuse_lowlevel_ops) {
        ops.`init` = { userdata, connection in
            let box = Unmanaged<FileSystemBox>.fromOpaque(userdata!).takeUnretainedValue()
            box.kernelOpens = tandem_fuse_configure(connection) != 0
        }
        ops.lookup = { request, parent, name in
            let (reply, repository) = FuseReply.start(request)
            let name = Array(UnsafeRawBufferPointer(start: name, count: strlen(name!)).bindMemory(to: UInt8.self))
            Task {
                switch await repository.lookup(parent, name) {
                case .success(let (inode, attributes)): reply.entry(inode, attributes)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.getattr = { request, inode, _ in
            let (reply, repository) = FuseReply.start(request)
            Task {
                switch await repository.attributes(inode) {
                case .success(let attributes): reply.attributes(inode, attributes)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.readlink = { request, inode in
            let (reply, repository) = FuseReply.start(request)
            Task {
                switch await repository.target(inode) {
                case .success(let target): reply.link(target)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.open = { request, inode, info in
            // Answering ENOSYS once makes the kernel open every file itself from then on: reads
            // come with handle 0 and are served by inode, and no release follows.
            if FuseReply.box(request).kernelOpens {
                _ = fuse_reply_err(request, ENOSYS)
                return
            }
            let (reply, repository) = FuseReply.start(request)
            let flags = tandem_fuse_flags(info)
            Task {
                switch await repository.open(inode, flags: flags) {
                case .success(let handle): reply.open(handle)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.read = { request, inode, size, offset, info in
            let (reply, repository) = FuseReply.start(request)
            let handle = tandem_fuse_handle(info)
            Task {
                switch await repository.read(inode, handle: handle, offset: Int(offset), length: size) {
                case .success(let bytes): reply.bytes(bytes)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.release = { request, _, info in
            let (reply, repository) = FuseReply.start(request)
            let handle = tandem_fuse_handle(info)
            Task {
                await repository.release(handle)
                reply.error(0)
            }
        }
        ops.readdirplus = { request, inode, size, offset, _ in
            let (reply, repository) = FuseReply.start(request)
            Task {
                switch await repository.entriesPlus(inode) {
                case .success(let entries): reply.directoryPlus(entries, from: Int(offset), size: size)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.readdir = { request, inode, size, offset, _ in
            let (reply, repository) = FuseReply.start(request)
            Task {
                switch await repository.entries(inode) {
                case .success(let entries): reply.directory(entries, from: Int(offset), size: size)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.getxattr = { request, inode, name, size in
            let (reply, repository) = FuseReply.start(request)
            let name = String(cString: name!)
            Task {
                switch await repository.xattr(inode, name) {
                case .success(let value): reply.xattr(value, size: size)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
        ops.listxattr = { request, inode, size in
            let (reply, repository) = FuseReply.start(request)
            Task {
                switch await repository.xattrNames(inode) {
                case .success(let names): reply.xattr(names, size: size)
                case .failure(let failure): reply.error(failure.code)
                }
            }
        }
    }
}

/// The file system as libfuse's user data (a class, so it can travel as a pointer).
final class FileSystemBox: @unchecked Sendable {
    let fileSystem: any MountFileSystem
    /// Whether the kernel opens files itself (set at init). Only libfuse's loop thread touches
    /// it: init runs there before any request, and so does every open callback.
    var kernelOpens = false
    init(_ fileSystem: any MountFileSystem) { self.fileSystem = fileSystem }
}

/// A pointer handed to the loop thread.
private struct UncheckedPointer: @unchecked Sendable {
    let raw: OpaquePointer
    init(_ raw: OpaquePointer) { self.raw = raw }
}

/// One request of the kernel, answered exactly once from whichever task holds it (libfuse's
/// replies may come from any thread).
struct FuseReply: @unchecked Sendable {
    let request: fuse_req_t

    /// Attributes and entries are the same for as long as the mount lasts.
    static let timeout = 3600.0

    /// The request and the file system its session answers for.
    static func start(_ request: fuse_req_t?) -> (FuseReply, any MountFileSystem) {
        (FuseReply(request: request!), box(request).fileSystem)
    }

    /// The session's user data.
    static func box(_ request: fuse_req_t?) -> FileSystemBox {
        Unmanaged<FileSystemBox>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
    }

    func error(_ errno: Int32) { _ = fuse_reply_err(request, errno) }

    func entry(_ inode: UInt64, _ attributes: MountTree.Attributes) {
        var entry = fuse_entry_param()
        entry.ino = inode
        entry.attr = Self.stat(inode, attributes)
        entry.attr_timeout = Self.timeout
        entry.entry_timeout = Self.timeout
        _ = fuse_reply_entry(request, &entry)
    }

    func attributes(_ inode: UInt64, _ attributes: MountTree.Attributes) {
        var status = Self.stat(inode, attributes)
        _ = fuse_reply_attr(request, &status, Self.timeout)
    }

    func link(_ target: [UInt8]) {
        _ = (target + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { fuse_reply_readlink(request, $0.baseAddress) }
        }
    }

    func open(_ handle: UInt64) { _ = tandem_fuse_reply_open(request, handle) }

    func bytes(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { fuse_reply_buf(request, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
    }

    /// An xattr's value (or the names' list): its size when asked with size 0, ERANGE when it
    /// does not fit.
    func xattr(_ value: [UInt8], size: Int) {
        if size == 0 {
            _ = fuse_reply_xattr(request, value.count)
        } else if value.count > size {
            error(ERANGE)
        } else {
            bytes(value)
        }
    }

    /// Directory entries from `offset` (an entry's index), as many as fit in `size` bytes.
    func directory(_ entries: [MountWire.Entry], from offset: Int, size: Int) {
        replyEntries(count: entries.count, from: offset, size: size) { index, out, room in
            let entry = entries[index]
            var status = Foundation.stat()
            status.st_ino = ino_t(entry.inode)
            status.st_mode = Self.typeBits(entry.kind)
            return Self.withCName(entry.name) { fuse_add_direntry(request, out, room, $0, &status, off_t(index + 1)) }
        }
    }

    /// Directory entries with their attributes from `offset`, as many as fit in `size` bytes;
    /// the kernel keeps each as looked up (`.` and `..` excepted), for as long as the mount lasts.
    func directoryPlus(_ entries: [MountWire.EntryPlus], from offset: Int, size: Int) {
        replyEntries(count: entries.count, from: offset, size: size) { index, out, room in
            let entry = entries[index]
            var parameters = fuse_entry_param()
            parameters.ino = entry.inode
            parameters.attr = Self.stat(entry.inode, entry.attributes)
            parameters.attr_timeout = Self.timeout
            parameters.entry_timeout = Self.timeout
            return Self.withCName(entry.name) { fuse_add_direntry_plus(request, out, room, $0, &parameters, off_t(index + 1)) }
        }
    }

    /// Fills a reply of `size` bytes with entries from index `offset` while they fit: `add`
    /// writes entry `index` at `out` if `room` bytes hold it, and returns the bytes it needs.
    private func replyEntries(count: Int, from offset: Int, size: Int,
                              add: (Int, UnsafeMutablePointer<CChar>, Int) -> Int) {
        var buffer = [CChar](repeating: 0, count: size)
        var used = 0
        buffer.withUnsafeMutableBufferPointer { out in
            for index in max(0, offset)..<max(max(0, offset), count) {
                let needed = add(index, out.baseAddress! + used, size - used)
                guard used + needed <= size else { break }
                used += needed
            }
        }
        _ = buffer.withUnsafeBufferPointer { fuse_reply_buf(request, $0.baseAddress, used) }
    }

    /// `name` NUL-terminated, for libfuse.
    private static func withCName<R>(_ name: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (name + [0]).withUnsafeBufferPointer { bytes in bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    static func typeBits(_ kind: MountTree.Kind) -> mode_t {
        switch kind {
        case .directory: S_IFDIR
        case .file: S_IFREG
        case .symlink: S_IFLNK
        }
    }

    static func stat(_ inode: UInt64, _ attributes: MountTree.Attributes) -> Foundation.stat {
        var status = Foundation.stat()
        status.st_ino = ino_t(inode)
        status.st_mode = typeBits(attributes.kind) | mode_t(attributes.mode)
        status.st_nlink = nlink_t(attributes.links)
        status.st_uid = attributes.uid
        status.st_gid = attributes.gid
        status.st_size = off_t(attributes.size)
        status.st_blksize = 4096
        status.st_blocks = blkcnt_t((attributes.size + 511) / 512)
        let seconds = attributes.mtimeNanoseconds >= 0 ? attributes.mtimeNanoseconds / 1_000_000_000
            : (attributes.mtimeNanoseconds - 999_999_999) / 1_000_000_000
        let time = timespec(tv_sec: Int(seconds), tv_nsec: Int(attributes.mtimeNanoseconds - seconds * 1_000_000_000))
        status.st_mtim = time
        status.st_atim = time
        status.st_ctim = time
        return status
    }
}

import Foundation
import CTandemSystem
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// The directory a tree is restored into, held open: every entry is created, opened and given
/// its metadata relative to a descriptor of its parent, reached from the root one component at
/// a time with `O_NOFOLLOW | O_DIRECTORY`. So a symlink can never carry a restore outside the
/// target, whether the manifest put it there (``TreeLayout`` refuses that first) or someone
/// planted it in the target while the restore ran. Names go to the kernel as the bytes
/// ``FileNameBytes`` carries.
final class TargetDirectory: Sendable {
    let root: String
    private let rootFD: Int32

    /// Opens `root`, which must not exist (it is created, 0700) or be an empty directory.
    init(_ root: String) throws {
        self.root = root
        var info = stat()
        if stat(root, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR, let dir = opendir(root) else { throw RepositoryError.targetExists(root) }
            defer { closedir(dir) }
            while let item = readdir(dir) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
                if name != [0x2E] && name != [0x2E, 0x2E] { throw RepositoryError.targetExists(root) }
            }
        } else if mkdir(root, 0o700) != 0 {
            throw RepositoryError.targetUnwritable(root, String(cString: strerror(errno)))
        }
        rootFD = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw RepositoryError.targetUnwritable(root, String(cString: strerror(errno))) }
    }

    deinit { close(rootFD) }

    /// Where an entry goes, for messages.
    func display(_ path: String) -> String { path.isEmpty ? root : root + "/" + FileNameBytes.display(path) }

    func failure(_ path: String, _ code: Int32 = errno) -> RepositoryError {
        .targetUnwritable(display(path), String(cString: strerror(code)))
    }

    /// Calls `body` with a descriptor of `path`'s parent (open only for the call) and the
    /// last component as a C string; the root's parent is the root itself with name ".".
    func withParent<Result>(of path: String, _ body: (Int32, UnsafePointer<CChar>) throws -> Result) throws -> Result {
        var parts = FileNameBytes.bytes(path).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard let last = parts.popLast(), !path.isEmpty else { return try body(rootFD, ".") }
        // TreeLayout refused these already; a walk that cannot leave the root refuses them again.
        for part in parts + [last] where part.isEmpty || part.elementsEqual([0x2E]) || part.elementsEqual([0x2E, 0x2E]) {
            throw failure(path, EINVAL)
        }
        var fd = rootFD
        defer { if fd != rootFD { close(fd) } }
        for component in parts {
            let next = Self.withCName(component) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            guard next >= 0 else { throw failure(path) }
            if fd != rootFD { close(fd) }
            fd = next
        }
        return try Self.withCName(last) { try body(fd, $0) }
    }

    /// Creates a directory (0700 until its metadata is set).
    func makeDirectory(_ path: String) throws {
        try withParent(of: path) { parent, name in
            guard mkdirat(parent, name, 0o700) == 0 else { throw failure(path) }
        }
    }

    func makeSymlink(_ path: String, target: String) throws {
        try withParent(of: path) { parent, name in
            guard SystemPath.withC(target, { symlinkat($0, parent, name) }) == 0 else { throw failure(path) }
        }
    }

    /// Creates a new file (never an existing one, never through a symlink) and returns its
    /// descriptor, open for writing.
    func createFile(_ path: String) throws -> Int32 {
        try withParent(of: path) { parent, name in
            let fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw failure(path) }
            return fd
        }
    }

    /// Puts back owner (when `owners`), extended attributes, mode and times; returns what could
    /// not be set. Files and folders are changed through a descriptor opened without following
    /// links; a symlink through its parent's descriptor with `AT_SYMLINK_NOFOLLOW`.
    func applyMetadata(_ entry: TreeEntry, owners: Bool) throws -> [String] {
        var warnings: [String] = []
        let where_ = display(entry.path)
        func note(_ what: String, _ code: Int32 = errno) { warnings.append("\(where_): \(what): \(String(cString: strerror(code)))") }
        let seconds = entry.mtimeNanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        var times = [timespec(tv_sec: Int(seconds.quotient), tv_nsec: Int(seconds.remainder)),
                     timespec(tv_sec: Int(seconds.quotient), tv_nsec: Int(seconds.remainder))]
        try withParent(of: entry.path) { parent, name in
            guard entry.type != .symlink else {
                if owners, fchownat(parent, name, entry.uid, entry.gid, AT_SYMLINK_NOFOLLOW) != 0 { note("owner not set") }
                if let xattrs = entry.xattrs {
                    // The link itself, named through /proc so that the parent is the one held open.
                    var viaProc = Array("/proc/self/fd/\(parent)/".utf8)[...]
                    viaProc += UnsafeRawBufferPointer(start: name, count: strlen(name))
                    for (key, value) in xattrs {
                        let set = Self.withCName(viaProc) { link in value.withUnsafeBytes { lsetxattr(link, key, $0.baseAddress, $0.count, 0) } }
                        if set != 0 { note("xattr \(key) not set") }
                    }
                }
                if utimensat(parent, name, &times, AT_SYMLINK_NOFOLLOW) != 0 { note("times not set") }
                return
            }
            let directory = entry.type == .directory ? O_DIRECTORY : 0
            let fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | directory)
            guard fd >= 0 else { throw failure(entry.path) }
            defer { close(fd) }
            if owners, fchown(fd, entry.uid, entry.gid) != 0 { note("owner not set") }
            for (key, value) in entry.xattrs ?? [:] where value.withUnsafeBytes({ fsetxattr(fd, key, $0.baseAddress, $0.count, 0) }) != 0 {
                note("xattr \(key) not set")
            }
            if fchmod(fd, mode_t(entry.mode)) != 0 { note("mode not set") }
            if futimens(fd, &times) != 0 { note("times not set") }
        }
        return warnings
    }

    private static func withCName<Result>(_ bytes: ArraySlice<UInt8>, _ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        var name = Array(bytes)
        name.append(0)
        return try name.withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

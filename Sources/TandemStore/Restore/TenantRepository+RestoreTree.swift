import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

extension TenantRepository {
    /// Restores a tree snapshot below `root` (which must not exist or be an empty directory):
    /// folders and symlinks first, then file contents in order, then owners, modes, times and
    /// xattrs, folders last and deepest first so writing into them still works.
    func restoreTree(_ manifest: SnapshotManifest, to root: String, options: RestoreOptions) async throws -> (Int64, Int, [String]) {
        var entries = manifest.tree ?? []
        if let only = options.only?.trimmingCharacters(in: CharacterSet(charactersIn: "/")), !only.isEmpty {
            entries = entries.filter { $0.path == only || $0.path.hasPrefix(only + "/") || (only.hasPrefix($0.path + "/") && $0.type == .directory) || $0.path.isEmpty }
            guard entries.contains(where: { $0.path == only }) else { throw RepositoryError.snapshotNotFound("path \(only)") }
        }
        try prepareRoot(root)
        var warnings: [String] = []
        func full(_ entry: TreeEntry) -> String { entry.path.isEmpty ? root : root + "/" + entry.path }
        for entry in entries where !entry.path.isEmpty {
            switch entry.type {
            case .directory:
                guard mkdir(full(entry), 0o700) == 0 || errno == EEXIST else { throw unwritable(full(entry)) }
            case .symlink:
                guard symlink(entry.symlinkTarget ?? "", full(entry)) == 0 else { throw unwritable(full(entry)) }
            case .file:
                if entry.chunks?.isEmpty ?? true {
                    let fd = Glibc.open(full(entry), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                    guard fd >= 0 else { throw unwritable(full(entry)) }
                    close(fd)
                }
            }
        }
        let files = entries.filter { $0.type == .file && !($0.chunks?.isEmpty ?? true) }
        let segments = files.enumerated().map { RestorePlan.Segment(output: $0.offset, list: $0.element.chunks!) }
        let paths = files.map { full($0) }
        let sink = OutputSink(sparse: true, open: { output in
            let fd = Glibc.open(paths[output], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw RepositoryError.targetUnwritable(paths[output], String(cString: strerror(errno))) }
            return fd
        }, close: { _, fd in close(fd) })
        try await runRestore(segments: segments, sink: sink, options: options)
        let asRoot = geteuid() == 0
        for entry in entries.reversed() {
            let path = full(entry)
            if asRoot, lchown(path, entry.uid, entry.gid) != 0 { warnings.append("\(path): owner not set: \(String(cString: strerror(errno)))") }
            if let xattrs = entry.xattrs {
                for name in Xattrs.write(path, xattrs) { warnings.append("\(path): xattr \(name) not set") }
            }
            if entry.type != .symlink, chmod(path, mode_t(entry.mode)) != 0 {
                warnings.append("\(path): mode not set: \(String(cString: strerror(errno)))")
            }
            let seconds = entry.mtimeNanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
            var times = [timespec(tv_sec: Int(seconds.quotient), tv_nsec: Int(seconds.remainder)),
                         timespec(tv_sec: Int(seconds.quotient), tv_nsec: Int(seconds.remainder))]
            if utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) != 0 {
                warnings.append("\(path): times not set: \(String(cString: strerror(errno)))")
            }
        }
        let bytes = files.reduce(Int64(0)) { $0 + Int64($1.chunks!.totalLength) }
        return (bytes, entries.filter { $0.type == .file }.count, warnings)
    }

    private func prepareRoot(_ root: String) throws {
        var info = stat()
        if stat(root, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR, let dir = opendir(root) else { throw RepositoryError.targetExists(root) }
            defer { closedir(dir) }
            while let item = readdir(dir) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
                if name != "." && name != ".." { throw RepositoryError.targetExists(root) }
            }
            return
        }
        guard mkdir(root, 0o700) == 0 else { throw unwritable(root) }
    }

    private func unwritable(_ path: String) -> RepositoryError {
        .targetUnwritable(path, String(cString: strerror(errno)))
    }
}

import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A repository in a directory of the host's filesystem: the embedded default.
///
/// Writes go to a temporary file in the target's folder, are fsynced, renamed over the target
/// and the folder is fsynced, so an object is either wholly there or absent after a crash.
public struct LocalBackend: Backend {
    public let root: String

    public init(root: String) {
        var root = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
    }

    func absolute(_ path: String) -> String { path.isEmpty ? root : root + "/" + path }

    public func write(_ path: String, _ bytes: [UInt8], overwrite: Bool) async throws {
        try await write(path, bytes[...], overwrite: overwrite, cached: true)
    }

    /// Written around the page cache (``DirectWrite``: O_DIRECT where the filesystem allows
    /// it), fsynced, and whatever did pass through the cache dropped from it
    /// (POSIX_FADV_DONTNEED): besides keeping the cache for what is read, this matters in a VM
    /// whose host takes freed memory back, where writing into pages never touched before cost
    /// about 3 s of system time per GB here.
    public func writeUncached(_ path: String, _ bytes: ArraySlice<UInt8>, overwrite: Bool) async throws {
        try await write(path, bytes, overwrite: overwrite, cached: false)
    }

    private func write(_ path: String, _ bytes: ArraySlice<UInt8>, overwrite: Bool, cached: Bool) async throws {
        let target = absolute(path)
        try await BlockingIO.run {
            let folder = Self.parent(target)
            try Self.makeDirectories(folder)
            if !overwrite && access(target, F_OK) == 0 { throw BackendError.alreadyExists(path) }
            let temp = folder + "/.tmp-" + UUID().uuidString.prefix(12).lowercased()
            let (fd, direct) = cached ? (open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o640), false) : DirectWrite.open(temp)
            guard fd >= 0 else { throw Self.error(path) }
            defer { close(fd) }
            do {
                if cached {
                    try Self.writeAll(fd, bytes, at: 0, path: path)
                } else {
                    try DirectWrite.write(fd, bytes, direct: direct, path: path)
                }
            } catch {
                unlink(temp)
                throw error
            }
            try Self.publish(fd: fd, temp: temp, as: target, path: path)
            if !cached { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) }
        }
    }

    /// The end of every write: fsync the temporary file, rename it over `target`, fsync the
    /// folder. The temporary file is gone afterwards either way; the caller closes `fd`.
    static func publish(fd: Int32, temp: String, as target: String, path: String) throws {
        do {
            guard fsync(fd) == 0 else { throw error(path) }
            try makeDirectories(parent(target))
            try Failpoint.reach("backend.write.before-rename")
        } catch {
            unlink(temp)
            throw error
        }
        guard rename(temp, target) == 0 else {
            let failure = error(path)
            unlink(temp)
            throw failure
        }
        try syncDirectory(parent(target), path: path)
        try Failpoint.reach("backend.write.after-rename")
    }

    public func read(_ path: String) async throws -> [UInt8] {
        let target = absolute(path)
        return try await BlockingIO.run {
            let fd = open(target, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Self.error(path) }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw Self.error(path) }
            return try Self.readExactly(fd, offset: 0, length: Int(info.st_size), path: path)
        }
    }

    public func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] {
        let target = absolute(path)
        return try await BlockingIO.run {
            let fd = open(target, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Self.error(path) }
            defer { close(fd) }
            return try Self.readExactly(fd, offset: offset, length: length, path: path)
        }
    }

    public func size(_ path: String) async throws -> Int {
        var info = stat()
        guard stat(absolute(path), &info) == 0 else { throw Self.error(path) }
        return Int(info.st_size)
    }

    public func list(_ prefix: String) async throws -> [String] {
        let base = absolute(prefix)
        return try await BlockingIO.run {
            var found: [String] = []
            func walk(_ directory: String, _ relative: String) throws {
                guard let dir = opendir(directory) else {
                    if errno == ENOENT { return }
                    throw Self.error(relative)
                }
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                    }
                    if name == "." || name == ".." || name.hasPrefix(".tmp-") { continue }
                    let child = relative.isEmpty ? name : relative + "/" + name
                    var info = stat()
                    guard lstat(directory + "/" + name, &info) == 0 else { continue }
                    if info.st_mode & S_IFMT == S_IFDIR {
                        try walk(directory + "/" + name, child)
                    } else if info.st_mode & S_IFMT == S_IFREG {
                        found.append(child)
                    }
                }
            }
            try walk(base, prefix)
            return found.sorted()
        }
    }

    public func removeIncompleteWrites(_ prefix: String, olderThan cutoff: Date) async throws -> Int {
        let base = absolute(prefix)
        return try await BlockingIO.run {
            var removed = 0
            func walk(_ directory: String) {
                guard let dir = opendir(directory) else { return }
                defer { closedir(dir) }
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
                    }
                    if name == "." || name == ".." { continue }
                    let path = directory + "/" + name
                    var info = stat()
                    guard lstat(path, &info) == 0 else { continue }
                    if info.st_mode & S_IFMT == S_IFDIR {
                        walk(path)
                    } else if name.hasPrefix(".tmp-"), Double(info.st_mtim.tv_sec) < cutoff.timeIntervalSince1970,
                              unlink(path) == 0 {
                        removed += 1
                    }
                }
            }
            walk(base)
            return removed
        }
    }

    public func makeUpload(in folder: String) throws -> any BackendUpload {
        let directory = absolute(folder)
        try Self.makeDirectories(directory)
        let temp = directory + "/.tmp-" + UUID().uuidString.prefix(12).lowercased()
        let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Self.error(folder) }
        return LocalUpload(backend: self, fd: fd, temp: temp)
    }

    public func delete(_ path: String) async throws {
        let target = absolute(path)
        try await BlockingIO.run {
            if unlink(target) != 0 {
                // Nothing to remove (its folder may not exist either): done, nothing to sync.
                if errno == ENOENT { return }
                throw Self.error(path)
            }
            try Self.syncDirectory(Self.parent(target), path: path)
        }
    }

    public func exists(_ path: String) async throws -> Bool {
        access(absolute(path), F_OK) == 0
    }

    public func lock(_ path: String, exclusive: Bool) async throws -> BackendLock {
        let target = absolute(path)
        try Self.makeDirectories(Self.parent(target))
        let fd = open(target, O_CREAT | O_RDWR | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Self.error(path) }
        // A child this process forks (a hook, a test's tool) holds a copy of every open
        // descriptor until it execs, and with it any flock: a conflict can be such a moment,
        // not another holder. Try a few times over ~100 ms before reporting the lock taken.
        var attempt = 0
        while flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 {
            attempt += 1
            guard attempt < 10, errno == EWOULDBLOCK || errno == EINTR else {
                close(fd)
                throw BackendError.locked(path)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return FileLock(fd: fd)
    }

    // MARK: - System calls

    static func error(_ path: String, _ code: Int32 = errno) -> BackendError {
        switch code {
        case ENOENT: .notFound(path)
        case ENOSPC, EDQUOT: .noSpace(path)
        case EACCES, EPERM, EROFS: .permissionDenied(path)
        case EEXIST: .alreadyExists(path)
        default: .io(path, String(cString: strerror(code)))
        }
    }

    /// The folder holding `path` ("/" for top-level paths).
    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// pwrite all of `bytes` at `offset`, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: some ContiguousBytes, at offset: Int, path: String) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error(path)
                }
                done += n
            }
        }
    }

    static func readExactly(_ fd: Int32, offset: Int, length: Int, path: String) throws -> [UInt8] {
        guard length >= 0, offset >= 0 else { throw BackendError.shortRead(path) }
        return try [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            var done = 0
            while done < length {
                let n = pread(fd, buffer.baseAddress! + done, length - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error(path)
                }
                if n == 0 { throw BackendError.shortRead(path) }
                done += n
            }
            count = length
        }
    }

    static func syncDirectory(_ directory: String, path: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw error(path) }
    }

    /// `mkdir -p`, fsyncing each parent whose entry a new folder adds.
    static func makeDirectories(_ directory: String) throws {
        var info = stat()
        if stat(directory, &info) == 0 { return }
        let parent = Self.parent(directory)
        if parent != directory { try makeDirectories(parent) }
        if mkdir(directory, 0o750) != 0 && errno != EEXIST { throw error(directory) }
        try syncDirectory(parent, path: directory)
    }
}

/// An flock(2) held on an open file; the kernel drops it if the process dies.
final class FileLock: BackendLock, @unchecked Sendable {
    // A plain descriptor, closed once; `release` and `deinit` are the only users.
    private let fd: Int32
    private let released = LockState()

    init(fd: Int32) { self.fd = fd }

    func release() async {
        if await released.take() { close(fd) }
    }
}

/// Makes `FileLock.release` idempotent without a lock.
actor LockState {
    private var done = false
    func take() -> Bool {
        defer { done = true }
        return !done
    }
}

/// A local object written with pwrite into a temporary file, then fsynced, renamed into place
/// and its folder fsynced: the same steps (and failure points) as ``LocalBackend/write(_:_:overwrite:)``.
final class LocalUpload: BackendUpload {
    private let backend: LocalBackend
    private let fd: Int32
    private let temp: String
    private let closed = Atomic<Bool>(false)

    init(backend: LocalBackend, fd: Int32, temp: String) {
        self.backend = backend
        self.fd = fd
        self.temp = temp
    }

    func write(_ bytes: [UInt8], at offset: Int) async throws {
        // A page-cache copy: brief enough to run in place; fsync waits in commit, off the pool.
        try LocalBackend.writeAll(fd, bytes, at: offset, path: temp)
    }

    func commit(as path: String) async throws {
        let target = backend.absolute(path)
        let (fd, temp) = (self.fd, self.temp)
        defer { closeOnce() }
        try await BlockingIO.run { try LocalBackend.publish(fd: fd, temp: temp, as: target, path: path) }
    }

    /// Closes the descriptor exactly once, whichever of commit and abort comes first.
    private func closeOnce() {
        if closed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged { close(fd) }
    }

    func abort() async {
        closeOnce()
        unlink(temp)
    }
}

import Foundation
import TandemCodecs
#if canImport(Glibc)
import Glibc
#endif

/// File-system helpers: sizes, page-cache warm-up, content digests.
enum Files {
    /// The size of a file, following symlinks; nil when it cannot be stat'ed.
    static func size(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The device a path lives on (rename works only within one).
    static func device(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_dev)
    }

    /// Absolute path with symlinks resolved.
    static func realPath(_ path: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw BenchError("\(path): \(String(cString: strerror(errno)))") }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Every regular file under `root` (or `root` itself if it is a file), not following symlinks.
    static func regularFiles(under root: String) -> [(path: String, size: Int64)] {
        var out: [(String, Int64)] = []
        var st = stat()
        guard lstat(root, &st) == 0 else { return [] }
        if (st.st_mode & S_IFMT) == S_IFREG { return [(root, Int64(st.st_size))] }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return [] }
        var stack = [root]
        while let dir = stack.popLast() {
            guard let handle = opendir(dir) else { continue }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name == "." || name == ".." { continue }
                let path = dir + "/" + name
                guard lstat(path, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: stack.append(path)
                case S_IFREG: out.append((path, Int64(st.st_size)))
                default: break
                }
            }
        }
        return out
    }

    /// Apparent bytes under `root`: the sum of its regular files' sizes (what `du -b` counts,
    /// without the 4 KiB per directory).
    static func apparentSize(_ root: String) -> Int64 {
        regularFiles(under: root).reduce(0) { $0 + $1.size }
    }

    /// Reads every regular file under `root` once (like `cat FILES > /dev/null`), so every tool
    /// then reads its input from the page cache.
    static func warm(_ root: String) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        for file in regularFiles(under: root) {
            let fd = open(file.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            while read(fd, buffer, 1 << 20) > 0 {}
            close(fd)
        }
    }

    /// Calls `body` with successive pieces of the file (up to `block` bytes each).
    static func stream(_ path: String, block: Int = 8 << 20, limit: Int64 = .max,
                       _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 4096)
        defer { buffer.deallocate() }
        var remaining = limit
        while remaining > 0 {
            let n = read(fd, buffer, Int(min(Int64(block), remaining)))
            if n < 0 {
                if errno == EINTR { continue }
                throw BenchError("\(path): read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            remaining -= Int64(n)
            try body(UnsafeRawBufferPointer(start: buffer, count: n))
        }
    }

    /// Hex SHA-256 of a file's bytes.
    /// Flushes a file's data to the device (fsync) and returns the seconds it took.
    static func fsync(_ path: String) throws -> Double {
        let start = Monotonic.now()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard Glibc.fsync(fd) == 0 else { throw BenchError("fsync \(path): \(String(cString: strerror(errno)))") }
        return Monotonic.now() - start
    }

    static func sha256(_ path: String) throws -> String {
        let hasher = Hasher256(.sha256)
        try stream(path) { hasher.update($0) }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    /// Copies the first `count` bytes of `source` to a new file `target`.
    static func copyPrefix(_ source: String, to target: String, count: Int64) throws {
        unlink(target)
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError("\(target): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try stream(source, limit: count) { piece in
            var offset = 0
            while offset < piece.count {
                let n = write(fd, piece.baseAddress! + offset, piece.count - offset)
                guard n > 0 else { throw BenchError("\(target): write: \(String(cString: strerror(errno)))") }
                offset += n
            }
        }
    }

    /// Deletes `path` and everything under it, if present.
    static func remove(_ path: String) throws {
        if exists(path) { try FileManager.default.removeItem(atPath: path) }
    }

    static func makeDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// rename(2), which keeps every inode (and so every ctime) below the moved directory.
    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw BenchError("rename \(from) -> \(to): \(String(cString: strerror(errno)))")
        }
    }
}

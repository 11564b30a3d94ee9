import Foundation
import CTandemSystem
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// Walks a directory tree (without following symlinks or crossing into other entries' targets)
/// and records each entry's metadata, parents before children, names sorted bytewise.
struct TreeScanner {
    let root: String
    let includeXattrs: Bool
    let excludes: ExcludeRules
    /// Entries that were skipped (sockets, devices, unreadable folders), with why.
    private(set) var warnings: [String] = []
    /// Entries that could not be read (not the special files left out on purpose): each makes
    /// the snapshot incomplete.
    private(set) var unreadable = 0

    init(root: String, includeXattrs: Bool, excludes: ExcludeRules = ExcludeRules()) {
        self.root = root
        self.includeXattrs = includeXattrs
        self.excludes = excludes
    }

    mutating func scan() throws -> [TreeEntry] {
        var entries: [TreeEntry] = []
        guard let rootEntry = try entry(relative: "") else {
            throw RepositoryError.sourceUnreadable(root, "not a directory")
        }
        entries.append(rootEntry)
        try walk("", into: &entries)
        return entries
    }

    /// The path to hand the kernel: names carry their exact bytes (``FileNameBytes``).
    private func absolute(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    private func display(_ relative: String) -> String { FileNameBytes.display(absolute(relative)) }

    private mutating func walk(_ relative: String, into entries: inout [TreeEntry]) throws {
        guard let dir = SystemPath.withC(absolute(relative), { opendir($0) }) else {
            let code = errno
            let why = String(cString: strerror(code))
            if relative.isEmpty { throw RepositoryError.unreadable(root, code: code) }
            warnings.append("\(display(relative)): \(why)")
            unreadable += 1
            return
        }
        var names: [[UInt8]] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
            if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
        }
        closedir(dir)
        // Sorted by the names' bytes, and carried as strings that give those bytes back.
        names.sort { $0.lexicographicallyPrecedes($1) }
        for name in names.map({ FileNameBytes.string($0) }) {
            let child = relative.isEmpty ? name : relative + "/" + name
            guard let entry = try entry(relative: child) else { continue }
            if excludes.excludes(child, isDirectory: entry.type == .directory) { continue }
            entries.append(entry)
            if entry.type == .directory { try walk(child, into: &entries) }
        }
    }

    private mutating func entry(relative: String) throws -> TreeEntry? {
        let path = absolute(relative)
        var info = stat()
        guard SystemPath.withC(path, { lstat($0, &info) }) == 0 else {
            let code = errno
            let why = String(cString: strerror(code))
            if relative.isEmpty { throw RepositoryError.unreadable(root, code: code) }
            warnings.append("\(display(relative)): \(why)")
            unreadable += 1
            return nil
        }
        let type: EntryType
        var target: String?
        switch info.st_mode & S_IFMT {
        case S_IFREG: type = .file
        case S_IFDIR: type = .directory
        case S_IFLNK:
            type = .symlink
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = SystemPath.withC(path) { readlink($0, &buffer, buffer.count - 1) }
            guard n >= 0 else {
                warnings.append("\(display(relative)): \(String(cString: strerror(errno)))")
                unreadable += 1
                return nil
            }
            target = FileNameBytes.string(buffer[0..<n].map { UInt8(bitPattern: $0) })
        default:
            if relative.isEmpty { return nil }
            warnings.append("\(display(relative)): skipped (not a file, directory or symlink)")
            return nil
        }
        if relative.isEmpty && type != .directory { return nil }
        return TreeEntry(path: relative, type: type, mode: UInt32(info.st_mode & 0o7777), uid: info.st_uid, gid: info.st_gid,
                         mtimeNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                         ctimeNanoseconds: Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec),
                         inode: UInt64(info.st_ino), device: UInt64(info.st_dev),
                         size: type == .file ? Int64(info.st_size) : 0, symlinkTarget: target,
                         xattrs: includeXattrs ? Xattrs.read(path) : nil)
    }
}

/// Extended attributes of a path, without following a symlink.
enum Xattrs {
    static func read(_ path: String) -> [String: Data]? {
        SystemPath.withC(path) { read(cPath: $0) }
    }

    private static func read(cPath path: UnsafePointer<CChar>) -> [String: Data]? {
        let size = llistxattr(path, nil, 0)
        guard size > 0 else { return nil }
        var names = [CChar](repeating: 0, count: size)
        let got = llistxattr(path, &names, size)
        guard got > 0 else { return nil }
        var result: [String: Data] = [:]
        for raw in names[0..<got].split(separator: 0) {
            let name = String(decoding: raw.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let length = lgetxattr(path, name, nil, 0)
            guard length >= 0 else { continue }
            var value = [UInt8](repeating: 0, count: length)
            let read = lgetxattr(path, name, &value, length)
            if read >= 0 { result[name] = Data(value[0..<read]) }
        }
        return result.isEmpty ? nil : result
    }
}

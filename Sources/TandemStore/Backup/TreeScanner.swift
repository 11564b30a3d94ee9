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

    private func absolute(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    private mutating func walk(_ relative: String, into entries: inout [TreeEntry]) throws {
        guard let dir = opendir(absolute(relative)) else {
            let why = String(cString: strerror(errno))
            if relative.isEmpty { throw RepositoryError.sourceUnreadable(root, why) }
            warnings.append("\(absolute(relative)): \(why)")
            return
        }
        var names: [String] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(dir)
        names.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for name in names {
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
        guard lstat(path, &info) == 0 else {
            let why = String(cString: strerror(errno))
            if relative.isEmpty { throw RepositoryError.sourceUnreadable(root, why) }
            warnings.append("\(path): \(why)")
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
            let n = readlink(path, &buffer, buffer.count - 1)
            guard n >= 0 else {
                warnings.append("\(path): \(String(cString: strerror(errno)))")
                return nil
            }
            target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        default:
            if relative.isEmpty { return nil }
            warnings.append("\(path): skipped (not a file, directory or symlink)")
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

    /// Sets attributes; returns the names that could not be set.
    static func write(_ path: String, _ attributes: [String: Data]) -> [String] {
        attributes.compactMap { name, value in
            value.withUnsafeBytes { lsetxattr(path, name, $0.baseAddress, $0.count, 0) } == 0 ? nil : name
        }
    }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a mount could not start or ended badly.
public enum MountError: Error, CustomStringConvertible {
    case badMountPoint(String, String)
    case cannotMount(String, String)
    case loopFailed(String, String)

    public var description: String {
        switch self {
        case .badMountPoint(let path, let why): "cannot mount at \(path): \(why)"
        case .cannotMount(let path, let why): "cannot mount at \(path): \(why)"
        case .loopFailed(let path, let why): "the mount at \(path) failed: \(why)"
        }
    }
}

/// What a mount point must be: an empty directory that is not already a mount point.
public enum MountPoint {
    /// Throws ``MountError/badMountPoint(_:_:)`` saying what is wrong with `path`.
    public static func check(_ path: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { throw MountError.badMountPoint(path, String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw MountError.badMountPoint(path, "not a directory") }
        if isMountPoint(path) { throw MountError.badMountPoint(path, "something is already mounted there (unmount it first)") }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        guard entries.isEmpty else {
            throw MountError.badMountPoint(path, "the directory is not empty (\(entries.count) entr\(entries.count == 1 ? "y" : "ies"); mount on an empty one)")
        }
    }

    /// Whether `path` is a mount point, by /proc/self/mountinfo (a FUSE mount that is stuck
    /// cannot even be stat'ed, so the device numbers alone do not tell).
    public static func isMountPoint(_ path: String) -> Bool {
        guard let real = realpath(path, nil) else { return false }
        let absolute = String(cString: real)
        free(real)
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return false }
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { continue }
            // Spaces and the like are octal escapes in mountinfo.
            if Self.unescape(String(fields[4])) == absolute { return true }
        }
        return false
    }

    private static func unescape(_ field: String) -> String {
        var chars = Array(field.utf8)[...]
        var bytes: [UInt8] = []
        while let byte = chars.first {
            if byte == UInt8(ascii: "\\"), chars.count >= 4, let value = UInt8(String(decoding: chars.dropFirst().prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                chars = chars.dropFirst(4)
            } else {
                bytes.append(byte)
                chars = chars.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

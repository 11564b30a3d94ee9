import Foundation
import Logging
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// The folders export sockets live in (`exports/ID/nbd.sock` or `mount.sock`), kept the daemon's own so that
/// a user who may connect to a socket can never make the daemon act on a path of its choosing:
/// the daemon makes, opens and removes only entries it created itself.
enum ExportFolders {
    /// Makes `directory` (0711) if need be and `directory/id` (0700); refuses a `directory` that
    /// is not a real directory of this process's uid.
    static func make(_ id: String, in directory: String) throws -> String {
        if mkdir(directory, 0o711) != 0 && errno != EEXIST {
            throw DaemonError.io("cannot make the exports directory \(directory): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(directory, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid() else {
            throw DaemonError.io("\(directory) must be a directory of uid \(getuid()) (tandemd's) for exports; it is not")
        }
        // mkdir's mode passes through the umask (the unit's is 0077): set it outright.
        guard info.st_mode & 0o7777 == 0o711 || chmod(directory, 0o711) == 0 else {
            throw DaemonError.io("cannot open the exports directory \(directory) to traversal: \(String(cString: strerror(errno)))")
        }
        let folder = directory + "/" + id
        guard (folder + "/mount.sock").utf8.count < 108 else {
            throw DaemonError.config("the export socket \(folder)/mount.sock is longer than a Unix socket path may be (107 bytes); "
                                     + "put control.socket in a shorter directory")
        }
        guard mkdir(folder, 0o700) == 0 else {
            throw DaemonError.io("cannot make the export folder \(folder): \(String(cString: strerror(errno)))")
        }
        return folder
    }

    /// Lets every local user connect to the bound `socket` (0666; the server admits only its
    /// owner's uid, by `SO_PEERCRED`, as the control socket does) and opens its folder to
    /// traversal (0711), in that order: until then only the daemon can reach the socket.
    /// Nothing is chowned, so this works for a daemon that runs as its own unprivileged user.
    static func open(_ socket: String, folder: String) throws {
        guard chmod(socket, 0o666) == 0 else {
            throw DaemonError.io("cannot set the mode of \(socket): \(String(cString: strerror(errno)))")
        }
        guard chmod(folder, 0o711) == 0 else {
            throw DaemonError.io("cannot open the export folder \(folder): \(String(cString: strerror(errno)))")
        }
    }

    /// The socket's name in an export's folder.
    static func socketName(_ kind: ExportKind) -> String { kind == .mount ? "mount.sock" : "nbd.sock" }

    /// Removes an export's socket and folder (both the daemon's own).
    static func remove(_ folder: String, logger: Logger) {
        for kind in ExportKind.allCases { unlink(folder + "/" + socketName(kind)) }
        if rmdir(folder) != 0 && errno != ENOENT {
            logger.warning("cannot remove an export folder", metadata: ["folder": "\(folder)", "error": "\(String(cString: strerror(errno)))"])
        }
    }

    /// Removes the folders of exports a daemon that died left behind.
    static func clearLeftovers(in directory: String, logger: Logger) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.count == 12 && name.allSatisfy(\.isHexDigit) {
            remove(directory + "/" + name, logger: logger)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Why a repository operation was refused. Each case says what and where; the CLI maps the
/// categories to distinct exit statuses (see `tandemctl --help`).
public enum RepositoryError: Error, Equatable, CustomStringConvertible {
    case notARepository(String)
    case alreadyInitialized(String)
    case unknownTenant(String, known: [String])
    case tenantExists(String)
    case invalidTenantName(String)
    case snapshotNotFound(String)
    case ambiguousSnapshot(String, candidates: [String])
    case sourceUnreadable(String, String)
    /// The source (or a key file) exists but this user may not read it.
    case permissionDenied(String, String)
    case invalidExclude(String)
    case targetExists(String)
    case targetUnwritable(String, String)
    /// `--overwrite` names something that is not a regular file (a directory, a socket).
    case targetNotAFile(String)
    case notAStream(String)
    /// Only an image snapshot (an image, a device, stdin) can be served as a block device.
    case notAnImage(String)
    /// Only a tree snapshot is dumped as an archive.
    case notATree(String)
    case lastKeySlot(String)
    case keySlotNotFound(String)
    case damaged(String)

    public var description: String {
        switch self {
        case .notARepository(let path): "\(path) is not a Tandem repository (no readable config); run 'tandemctl init --repo \(path)'"
        case .alreadyInitialized(let path): "\(path) already holds a Tandem repository"
        case .unknownTenant(let name, let known):
            "unknown tenant '\(name)'" + (known.isEmpty ? " (the repository has none yet)" : " (known: \(known.joined(separator: ", ")))")
        case .tenantExists(let name): "tenant '\(name)' already exists"
        case .invalidTenantName(let name): "tenant name '\(name)' must be 1-64 characters of a-z, A-Z, 0-9, '.', '_' or '-' and not start with '.'"
        case .snapshotNotFound(let ref): "no snapshot matches '\(ref)'"
        case .ambiguousSnapshot(let ref, let candidates):
            "snapshot prefix '\(ref)' is ambiguous: \(candidates.prefix(5).map { String($0.prefix(12)) }.joined(separator: ", "))"
        case .sourceUnreadable(let path, let why): "cannot read source \(path): \(why)"
        case .permissionDenied(let path, let why): "cannot read \(path): \(why)"
        case .invalidExclude(let pattern): "exclude pattern '\(pattern)' matches nothing useful (empty after removing slashes)"
        case .targetExists(let path): "restore target \(path) already exists and is not an empty directory"
        case .targetUnwritable(let path, let why): "cannot write restore target \(path): \(why)"
        case .targetNotAFile(let path): "restore target \(path) exists and is not a regular file or block device; --overwrite replaces only files"
        case .notAStream(let id): "snapshot \(id.prefix(12)) is a directory tree; restore it to a directory, not to '-'"
        case .notATree(let id): "snapshot \(id.prefix(12)) is an image; dump it with --format raw or qcow2 (or serve it over NBD), not as an archive"
        case .notAnImage(let id): "snapshot \(id.prefix(12)) is a directory tree; only image snapshots (an image, a device, stdin) are served over NBD or dumped as raw or qcow2 (dump a tree as tar)"
        case .lastKeySlot(let id): "key slot \(id) is the tenant's last one; add another before removing it"
        case .keySlotNotFound(let id): "no key slot \(id)"
        case .damaged(let what): "repository damaged: \(what); run 'tandemctl check --read-data'"
        }
    }
}

extension RepositoryError {
    /// A source that could not be opened or read, by `errno`: permission refused (an I/O
    /// status) apart from everything else (missing, not a file: not found).
    public static func unreadable(_ path: String, code: Int32) -> RepositoryError {
        let why = String(cString: strerror(code))
        return code == EACCES || code == EPERM ? .permissionDenied(path, why) : .sourceUnreadable(path, why)
    }
}

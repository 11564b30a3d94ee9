import Foundation

/// Where a repository's objects live. Paths are `/`-separated and relative to the repository
/// root. Every write is atomic and durable when it returns; objects are never changed in place.
///
/// Implementations: ``LocalBackend`` (a directory, the embedded default) and ``InMemoryBackend``
/// (tests). All must pass the same conformance suite (`BackendConformanceTests`).
public protocol Backend: Sendable {
    /// Stores `bytes` at `path`, durably (temp file, fsync, rename, fsync directory).
    /// Fails with ``BackendError/alreadyExists(_:)`` unless `overwrite` is set.
    func write(_ path: String, _ bytes: [UInt8], overwrite: Bool) async throws
    /// ``write(_:_:overwrite:)`` for an object this site will not read soon (a twin's or the
    /// remote's copy of a pack): a local backend drops it from the page cache once it is
    /// durable, so it evicts nothing that is read and its memory is reused at once.
    /// `bytes` is a slice so a twin can store a pack where its link placed it.
    func writeUncached(_ path: String, _ bytes: ArraySlice<UInt8>, overwrite: Bool) async throws
    /// The whole object.
    func read(_ path: String) async throws -> [UInt8]
    /// `length` bytes from `offset`; fails with ``BackendError/shortRead(_:)`` past the end.
    func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8]
    /// The object's size in bytes.
    func size(_ path: String) async throws -> Int
    /// Every object below the folder `prefix` (recursively), as full paths, sorted.
    func list(_ prefix: String) async throws -> [String]
    /// Removes an object (durably); removing a missing object is not an error.
    func delete(_ path: String) async throws
    /// Whether an object exists.
    func exists(_ path: String) async throws -> Bool
    /// Takes a lock named `path`: shared for backups, exclusive for prune and forget.
    /// Fails with ``BackendError/locked(_:)`` at once when it is held incompatibly.
    func lock(_ path: String, exclusive: Bool) async throws -> BackendLock
    /// Removes what writes interrupted by a crash left behind below `prefix` (temporary files,
    /// incomplete uploads) if older than `cutoff`; returns how many were removed.
    func removeIncompleteWrites(_ prefix: String, olderThan cutoff: Date) async throws -> Int
    /// Starts an object written piece by piece (packs, so no pack is ever held in memory whole).
    /// Nothing is visible until ``BackendUpload/commit(as:)``, which is as durable and atomic as
    /// ``write(_:_:overwrite:)``; `folder` is where the pieces wait.
    func makeUpload(in folder: String) throws -> any BackendUpload
}

extension Backend {
    /// Stores without a cache to drop (object stores, memory).
    public func writeUncached(_ path: String, _ bytes: ArraySlice<UInt8>, overwrite: Bool) async throws {
        try await write(path, Array(bytes), overwrite: overwrite)
    }
}

/// An object being written in pieces at explicit offsets, in any order.
public protocol BackendUpload: Sendable {
    func write(_ bytes: [UInt8], at offset: Int) async throws
    /// Makes the object durable under `path` (replacing an object of the same name).
    func commit(as path: String) async throws
    /// Drops the pieces.
    func abort() async
}

/// A held backend lock; released by ``release()`` or when the holder process ends.
public protocol BackendLock: Sendable {
    func release() async
}

extension BackendLock {
    /// Runs `body` on the caller's actor, then releases this lock however `body` ends.
    public func whileHeld<Result>(isolation: isolated (any Actor)? = #isolation,
                                  _ body: () async throws -> Result) async throws -> Result {
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}

/// Why a backend operation failed. `transient` errors may be retried; the others are final.
public enum BackendError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case alreadyExists(String)
    case shortRead(String)
    case noSpace(String)
    case permissionDenied(String)
    case locked(String)
    case io(String, String)

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): not found"
        case .alreadyExists(let path): "\(path): already exists"
        case .shortRead(let path): "\(path): shorter than expected (truncated?)"
        case .noSpace(let path): "\(path): no space left on device"
        case .permissionDenied(let path): "\(path): permission denied"
        case .locked(let path): "\(path): locked by another tandem process (a backup, forget or prune is running)"
        case .io(let path, let why): "\(path): \(why)"
        }
    }
}

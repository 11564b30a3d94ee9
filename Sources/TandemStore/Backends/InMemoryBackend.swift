import Foundation

/// A backend in memory, for tests: same contract as ``LocalBackend``, no durability.
public actor InMemoryBackend: Backend {
    private var objects: [String: [UInt8]] = [:]
    private var locks: [String: (exclusive: Bool, holders: Int)] = [:]

    public init() {}

    public func write(_ path: String, _ bytes: [UInt8], overwrite: Bool) throws {
        if !overwrite && objects[path] != nil { throw BackendError.alreadyExists(path) }
        objects[path] = bytes
    }

    public func read(_ path: String) throws -> [UInt8] {
        guard let bytes = objects[path] else { throw BackendError.notFound(path) }
        return bytes
    }

    public func read(_ path: String, offset: Int, length: Int) throws -> [UInt8] {
        guard let bytes = objects[path] else { throw BackendError.notFound(path) }
        guard offset >= 0, length >= 0, offset + length <= bytes.count else { throw BackendError.shortRead(path) }
        return Array(bytes[offset ..< offset + length])
    }

    public func size(_ path: String) throws -> Int {
        guard let bytes = objects[path] else { throw BackendError.notFound(path) }
        return bytes.count
    }

    public func list(_ prefix: String) -> [String] {
        let folder = prefix.isEmpty ? "" : prefix + "/"
        return objects.keys.filter { $0.hasPrefix(folder) }.sorted()
    }

    public func delete(_ path: String) { objects[path] = nil }

    public func exists(_ path: String) -> Bool { objects[path] != nil }

    public nonisolated func makeUpload(in folder: String) throws -> any BackendUpload { MemoryUpload(backend: self) }

    fileprivate func store(_ path: String, _ bytes: [UInt8]) { objects[path] = bytes }

    /// Writes here are atomic in memory: nothing is ever left half-written.
    public func removeIncompleteWrites(_ prefix: String, olderThan cutoff: Date) -> Int { 0 }

    public func lock(_ path: String, exclusive: Bool) throws -> BackendLock {
        if let held = locks[path], held.holders > 0, held.exclusive || exclusive { throw BackendError.locked(path) }
        locks[path] = (exclusive, (locks[path]?.holders ?? 0) + 1)
        return MemoryLock(backend: self, path: path)
    }

    fileprivate func unlock(_ path: String) {
        guard let held = locks[path] else { return }
        locks[path] = held.holders > 1 ? (held.exclusive, held.holders - 1) : nil
    }

    /// Replaces an object's bytes, bypassing the write contract: for tests that damage data.
    public func corrupt(_ path: String, _ change: ([UInt8]) -> [UInt8]) {
        if let bytes = objects[path] { objects[path] = change(bytes) }
    }
}

private struct MemoryLock: BackendLock {
    let backend: InMemoryBackend
    let path: String
    func release() async { await backend.unlock(path) }
}

private actor MemoryUpload: BackendUpload {
    let backend: InMemoryBackend
    private var bytes: [UInt8] = []

    init(backend: InMemoryBackend) { self.backend = backend }

    func write(_ piece: [UInt8], at offset: Int) {
        if bytes.count < offset + piece.count { bytes += [UInt8](repeating: 0, count: offset + piece.count - bytes.count) }
        bytes.replaceSubrange(offset ..< offset + piece.count, with: piece)
    }

    func commit(as path: String) async { await backend.store(path, bytes) }

    func abort() { bytes = [] }
}

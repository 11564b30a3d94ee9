import Foundation
import Testing
import TandemTestSupport
import TandemCore
@testable import TandemStore

/// Wraps a backend and fails the K-th write with a chosen error (a full disk, say).
actor FaultyBackend: Backend {
    let inner: any Backend
    private let failingWrite: Int
    private let error: BackendError
    private var writes = 0

    init(_ inner: any Backend, failWrite k: Int, with error: BackendError) {
        self.inner = inner
        failingWrite = k
        self.error = error
    }

    func write(_ path: String, _ bytes: [UInt8], overwrite: Bool) async throws {
        try countWrite()
        try await inner.write(path, bytes, overwrite: overwrite)
    }

    func read(_ path: String) async throws -> [UInt8] { try await inner.read(path) }
    func read(_ path: String, offset: Int, length: Int) async throws -> [UInt8] { try await inner.read(path, offset: offset, length: length) }
    func size(_ path: String) async throws -> Int { try await inner.size(path) }
    func list(_ prefix: String) async throws -> [String] { try await inner.list(prefix) }
    func delete(_ path: String) async throws { try await inner.delete(path) }
    func exists(_ path: String) async throws -> Bool { try await inner.exists(path) }
    func lock(_ path: String, exclusive: Bool) async throws -> BackendLock { try await inner.lock(path, exclusive: exclusive) }
    nonisolated func makeUpload(in folder: String) throws -> any BackendUpload {
        FaultyUpload(backend: self, inner: try inner.makeUpload(in: folder))
    }
    func countWrite() throws {
        writes += 1
        if writes == failingWrite { throw error }
    }
    func removeIncompleteWrites(_ prefix: String, olderThan cutoff: Date) async throws -> Int {
        try await inner.removeIncompleteWrites(prefix, olderThan: cutoff)
    }
}

/// Counts a committed upload as one write, like a whole-object write.
struct FaultyUpload: BackendUpload {
    let backend: FaultyBackend
    let inner: any BackendUpload
    func write(_ bytes: [UInt8], at offset: Int) async throws { try await inner.write(bytes, at: offset) }
    func commit(as path: String) async throws {
        do { try await backend.countWrite() } catch {
            await inner.abort()
            throw error
        }
        try await inner.commit(as: path)
    }
    func abort() async { await inner.abort() }
}

@Suite struct FaultyBackendTests {
    /// A disk that fills up at every possible write of a backup: the backup fails with the
    /// error, the repository stays consistent, and the earlier snapshot is intact.
    @Test(arguments: 1...4)
    func diskFullAtWrite(k: Int) async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let v1 = imageBytes(1 << 20, seed: 20)
        write(v1, to: dir.file("a"))
        let first = try await tenant.backup(.stream(path: dir.file("a")), options: smallPacks(), now: Date())
        write(imageBytes(3 << 20, seed: 21), to: dir.file("b"))
        let faulty = FaultyBackend(LocalBackend(root: dir.file("repo")), failWrite: k, with: .noSpace("disk"))
        let repository = try await Repository.open(backend: faulty)
        let failing = try await TenantRepository.open(in: repository, name: "acme", secret: passphrase,
                                                      indexPath: dir.file("repo/tenants/acme/index.sqlite"))
        var options = smallPacks()
        options.packSize = 128 << 10
        await #expect(throws: BackendError.noSpace("disk")) {
            _ = try await failing.backup(.stream(path: dir.file("b")), options: options, now: Date())
        }
        let healthy = try await reopen(dir)
        let report = try await healthy.check(readData: true)
        #expect(report.ok, "\(report.problems)")
        #expect(try await healthy.snapshots().count == 1)
        _ = try await healthy.restore(first.snapshotID, to: .path(dir.file("restored")), options: RestoreOptions())
        expectSameBytes(read(dir.file("restored")), v1)
    }
}

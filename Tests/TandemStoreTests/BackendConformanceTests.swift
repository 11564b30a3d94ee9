import Foundation
import Testing
@testable import TandemStore

/// The contract every backend must meet (restic's backend test suite is the model).
@Suite struct BackendConformanceTests {
    static func backends(_ dir: TemporaryDirectory) -> [(String, any Backend)] {
        [("local", LocalBackend(root: dir.file("objects"))), ("memory", InMemoryBackend())]
    }

    @Test func writeReadListDelete() async throws {
        let dir = TemporaryDirectory()
        for (name, backend) in Self.backends(dir) {
            try await backend.write("a/b/one", [1, 2, 3, 4, 5], overwrite: false)
            try await backend.write("a/two", [9], overwrite: false)
            #expect(try await backend.read("a/b/one") == [1, 2, 3, 4, 5], "\(name)")
            #expect(try await backend.read("a/b/one", offset: 1, length: 3) == [2, 3, 4], "\(name)")
            #expect(try await backend.size("a/b/one") == 5, "\(name)")
            #expect(try await backend.list("a") == ["a/b/one", "a/two"], "\(name)")
            #expect(try await backend.list("missing") == [], "\(name)")
            await #expect(throws: BackendError.alreadyExists("a/two")) { try await backend.write("a/two", [8], overwrite: false) }
            try await backend.write("a/two", [7], overwrite: true)
            #expect(try await backend.read("a/two") == [7], "\(name)")
            await #expect(throws: BackendError.shortRead("a/b/one")) { try await backend.read("a/b/one", offset: 3, length: 3) }
            await #expect(throws: BackendError.notFound("nope")) { try await backend.read("nope") }
            try await backend.delete("a/two")
            try await backend.delete("a/two")
            #expect(try await backend.exists("a/two") == false, "\(name)")
            #expect(try await backend.list("a") == ["a/b/one"], "\(name)")
        }
    }

    @Test func locksExcludeIncompatibleHolders() async throws {
        let dir = TemporaryDirectory()
        for (name, backend) in Self.backends(dir) {
            let shared1 = try await backend.lock("lock", exclusive: false)
            let shared2 = try await backend.lock("lock", exclusive: false)
            await #expect(throws: BackendError.locked("lock"), "\(name)") { _ = try await backend.lock("lock", exclusive: true) }
            await shared1.release()
            await shared2.release()
            let exclusive = try await backend.lock("lock", exclusive: true)
            await #expect(throws: BackendError.locked("lock"), "\(name)") { _ = try await backend.lock("lock", exclusive: false) }
            await exclusive.release()
        }
    }

    @Test func staleTemporaryFilesAreRemovedFreshOnesKept() async throws {
        let dir = TemporaryDirectory()
        let backend = LocalBackend(root: dir.file("objects"))
        try await backend.write("a/b/object", [1], overwrite: false)
        write([1, 2, 3], to: dir.file("objects/a/b/.tmp-stale"))
        write([1, 2, 3], to: dir.file("objects/a/.tmp-fresh"))
        var old = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        utimensat(AT_FDCWD, dir.file("objects/a/b/.tmp-stale"), &old, 0)
        #expect(try await backend.list("a") == ["a/b/object"])
        let removed = try await backend.removeIncompleteWrites("a", olderThan: Date().addingTimeInterval(-3600))
        #expect(removed == 1)
        #expect(!FileManager.default.fileExists(atPath: dir.file("objects/a/b/.tmp-stale")))
        #expect(FileManager.default.fileExists(atPath: dir.file("objects/a/.tmp-fresh")))
    }

    @Test func localWritesLeaveNoTemporaryFiles() async throws {
        let dir = TemporaryDirectory()
        let backend = LocalBackend(root: dir.file("objects"))
        for index in 0..<20 { try await backend.write("x/\(index)", Array(repeating: UInt8(index), count: 1000), overwrite: false) }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.file("objects/x"))
        #expect(names.count == 20 && !names.contains { $0.hasPrefix(".tmp") })
    }
}

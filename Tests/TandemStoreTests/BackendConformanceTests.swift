import Foundation
import Testing
import TandemTestSupport
@testable import TandemStore

/// The contract every backend must meet (restic's backend test suite is the model).
@Suite struct BackendConformanceTests {
    static func backends(_ dir: TemporaryDirectory) -> [(String, any Backend)] {
        [("local", LocalBackend(root: dir.file("objects"))), ("memory", InMemoryBackend())]
    }

    /// The shared contract (TandemTestSupport's ``BackendConformance``), for both backends.
    @Test func backendsMeetTheContract() async throws {
        let dir = TemporaryDirectory()
        for (name, backend) in Self.backends(dir) {
            try await BackendConformance(name: name, backend: backend).runAll()
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

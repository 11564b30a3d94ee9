import Foundation
import Testing
import CTandemSystem
import TandemCore
@testable import TandemStore

@Suite struct TreeBackupTests {
    /// A small tree with every kind of entry and metadata restore must bring back.
    func makeTree(_ root: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/docs/deep/er", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/empty", withIntermediateDirectories: true)
        write(imageBytes(300_000, seed: 7), to: root + "/docs/big.bin")
        write(Array("hello\n".utf8), to: root + "/docs/deep/er/hello.txt")
        write([], to: root + "/docs/empty.txt")
        write(imageBytes(70_000, seed: 8), to: root + "/exec.sh")
        chmod(root + "/exec.sh", 0o750)
        chmod(root + "/docs/deep", 0o700)
        try fm.createSymbolicLink(atPath: root + "/link", withDestinationPath: "docs/deep/er/hello.txt")
        try fm.createSymbolicLink(atPath: root + "/dangling", withDestinationPath: "/nonexistent/target")
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_600_000_000, tv_nsec: 123_456_789)]
        utimensat(AT_FDCWD, root + "/docs/big.bin", &times, 0)
        utimensat(AT_FDCWD, root + "/docs", &times, 0)
    }

    func metadata(_ root: String) -> [String: String] {
        var result: [String: String] = [:]
        let paths = [""] + (FileManager.default.enumerator(atPath: root)!.compactMap { $0 as? String })
        for path in paths {
            var info = stat()
            lstat(root + (path.isEmpty ? "" : "/" + path), &info)
            let type = info.st_mode & S_IFMT
            var line = "mode=\(String(info.st_mode, radix: 8)) size=\(type == S_IFDIR ? 0 : info.st_size) uid=\(info.st_uid)"
            if type != S_IFDIR { line += " mtime=\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)" }
            if type == S_IFLNK { line += " -> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + path)) ?? "?") }
            if type == S_IFREG { line += " sha=\(read(root + "/" + path).hashValue)" }
            result[path] = line
        }
        return result
    }

    @Test func treeRoundTripsWithMetadata() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try makeTree(dir.file("src"))
        let result = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        #expect(result.summary.files == 4)
        #expect(result.warnings.isEmpty)
        _ = try await tenant.restore("latest", to: .path(dir.file("dst")), options: RestoreOptions())
        #expect(metadata(dir.file("dst")) == metadata(dir.file("src")))
        var times = stat()
        lstat(dir.file("dst/docs"), &times)
        #expect(times.st_mtim.tv_sec == 1_600_000_000 && times.st_mtim.tv_nsec == 123_456_789)
    }

    @Test func unchangedFilesAreNotReadAgain() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try makeTree(dir.file("src"))
        _ = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        write(Array("changed\n".utf8), to: dir.file("src/docs/deep/er/hello.txt"))
        write(imageBytes(5000, seed: 9), to: dir.file("src/new.bin"))
        try FileManager.default.removeItem(atPath: dir.file("src/exec.sh"))
        let second = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        #expect(second.summary.filesUnchanged == 2)  // big.bin and empty.txt
        #expect(second.summary.bytesRead == 8 + 5000)
        _ = try await tenant.restore("latest", to: .path(dir.file("dst")), options: RestoreOptions())
        #expect(metadata(dir.file("dst")) == metadata(dir.file("src")))
    }

    /// A previous snapshot whose manifest is damaged is no parent: the next backup warns,
    /// reads every file and succeeds, instead of failing until the index is rebuilt.
    @Test func aDamagedParentIsSkippedAndEveryFileRead() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try makeTree(dir.file("src"))
        let first = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        let manifest = dir.file("repo/tenants/acme/snapshots/" + first.snapshotID)
        var bytes = read(manifest)
        bytes[bytes.count / 2] ^= 0x01
        write(bytes, to: manifest)
        let second = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        #expect(second.summary.filesUnchanged == 0 && second.summary.bytesRead == 300_000 + 6 + 70_000)
        #expect(second.warnings.contains { $0.contains("previous snapshot \(first.snapshotID.prefix(12))") }, "\(second.warnings)")
        _ = try await tenant.restore(second.snapshotID, to: .path(dir.file("dst")), options: RestoreOptions())
        #expect(metadata(dir.file("dst")) == metadata(dir.file("src")))
    }

    @Test func restoreOneFileOrFolder() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try makeTree(dir.file("src"))
        _ = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        var options = RestoreOptions()
        options.only = "docs/deep"
        _ = try await tenant.restore("latest", to: .path(dir.file("dst")), options: options)
        #expect(read(dir.file("dst/docs/deep/er/hello.txt")) == Array("hello\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: dir.file("dst/docs/big.bin")))
        options.only = "missing/file"
        await #expect(throws: RepositoryError.self) {
            _ = try await tenant.restore("latest", to: .path(dir.file("dst2")), options: options)
        }
    }

    @Test func restoreRefusesNonEmptyTargetsAndTreesToStdout() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try makeTree(dir.file("src"))
        let result = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        await #expect(throws: RepositoryError.targetExists(dir.file("src"))) {
            _ = try await tenant.restore("latest", to: .path(dir.file("src")), options: RestoreOptions())
        }
        await #expect(throws: RepositoryError.notAStream(result.snapshotID)) {
            _ = try await tenant.restore("latest", to: .standardOutput, options: RestoreOptions())
        }
        await #expect(throws: RepositoryError.snapshotNotFound("ffff")) {
            _ = try await tenant.restore("ffff", to: .path(dir.file("x")), options: RestoreOptions())
        }
    }
}

@Suite struct XattrTests {
    @Test func extendedAttributesRoundTripWhenAsked() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        try FileManager.default.createDirectory(atPath: dir.file("src"), withIntermediateDirectories: true)
        write(Array("labelled\n".utf8), to: dir.file("src/file"))
        let value = Array("secret-label".utf8)
        guard setxattr(dir.file("src/file"), "user.tandem.test", value, value.count, 0) == 0 else {
            return  // the filesystem under the temporary folder has no user xattrs; nothing to test
        }
        var options = smallPacks()
        options.includeXattrs = true
        _ = try await tenant.backup(.tree(path: dir.file("src")), options: options, now: Date())
        _ = try await tenant.restore("latest", to: .path(dir.file("dst")), options: RestoreOptions())
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = getxattr(dir.file("dst/file"), "user.tandem.test", &buffer, buffer.count)
        #expect(n == value.count && Array(buffer.prefix(max(n, 0))) == value)
    }
}

/// Linux names are bytes: names and symlink targets that are not UTF-8 come back exactly.
@Suite struct ByteNameTests {
    /// Runs `body` with `bytes` as a C path.
    func withRaw<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) } }
    }

    /// Every name below `root` (as bytes, relative), with its type and its contents or target.
    func listing(_ root: [UInt8]) -> [String] {
        var out: [String] = []
        func walk(_ relative: [UInt8]) {
            let here = relative.isEmpty ? root : root + [0x2F] + relative
            guard let dir = withRaw(here, { opendir($0) }) else { return }
            var names: [[UInt8]] = []
            while let item = readdir(dir) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
                if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
            }
            closedir(dir)
            for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                let child = relative.isEmpty ? name : relative + [0x2F] + name
                let path = root + [0x2F] + child
                var info = stat()
                _ = withRaw(path) { lstat($0, &info) }
                var line = "\(child) \(String(info.st_mode, radix: 8))"
                switch info.st_mode & S_IFMT {
                case S_IFLNK:
                    var buffer = [CChar](repeating: 0, count: 4096)
                    let n = withRaw(path) { readlink($0, &buffer, buffer.count) }
                    line += " -> \(buffer.prefix(max(n, 0)).map { UInt8(bitPattern: $0) })"
                case S_IFREG:
                    let fd = withRaw(path) { open($0, O_RDONLY) }
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let n = read(fd, &buffer, buffer.count)
                    close(fd)
                    line += " \(buffer.prefix(max(n, 0)))"
                default:
                    walk(child)
                }
                out.append(line)
            }
        }
        walk([])
        return out
    }

    @Test func namesAndTargetsThatAreNotUTF8RoundTrip() async throws {
        let dir = TemporaryDirectory()
        let tenant = try await makeTenant(dir)
        let src = Array(dir.file("src").utf8)
        mkdir(dir.file("src"), 0o755)
        let cafe: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        let folder: [UInt8] = [0x64, 0xFF, 0xFE]
        let inner: [UInt8] = [0x78, 0x80, 0x79]
        // A valid name that holds an escape scalar: must stay distinct from the others.
        let lookalike = Array("\u{10FDE9}".utf8)
        for (name, text) in [(cafe, "latin-1\n"), (lookalike, "lookalike\n")] {
            let fd = withRaw(src + [0x2F] + name) { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
            #expect(fd >= 0)
            _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }
        #expect(withRaw(src + [0x2F] + folder) { mkdir($0, 0o750) } == 0)
        let fd = withRaw(src + [0x2F] + folder + [0x2F] + inner) { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o600) }
        close(fd)
        #expect(withRaw([0x74, 0xE9] + folder) { target in withRaw(src + [0x2F] + [0x6C, 0xFE]) { symlink(target, $0) } } == 0)
        let before = listing(src)
        #expect(before.count == 5)

        let result = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        #expect(result.summary.files == 3)
        _ = try await tenant.restore("latest", to: .path(dir.file("dst")), options: RestoreOptions())
        #expect(listing(Array(dir.file("dst").utf8)) == before)
        // The next backup finds every file unchanged by its byte name.
        let second = try await tenant.backup(.tree(path: dir.file("src")), options: smallPacks(), now: Date())
        #expect(second.summary.filesUnchanged == 3)
    }
}

import Foundation
import Testing
import TandemCodecs
import TandemCore
import TandemTestSupport
@testable import TandemStore

/// Tree manifests sealed with the tenant's own key but shaped to make a restore (often run as
/// root) write outside its target: symlinks with entries below them, `..`, absolute paths,
/// duplicates, a directory replaced by a symlink between two entries.
@Suite struct HostileTreeTests {
    /// A sandbox: `outside/` holds what must never change; restores go to `target-N`.
    struct Sandbox {
        let dir = TemporaryDirectory()
        var outside: String { dir.file("outside") }

        init() throws {
            try FileManager.default.createDirectory(atPath: dir.file("outside/sub"), withIntermediateDirectories: true)
            write(Array("keep\n".utf8), to: dir.file("outside/file"))
            chmod(dir.file("outside"), 0o755)
            chmod(dir.file("outside/sub"), 0o750)
        }

        /// Every path under the sandbox except restore targets and the repository, with type,
        /// mode and contents: what a restore must leave exactly as it was.
        func state() -> [String] {
            let items = FileManager.default.enumerator(atPath: dir.path)!.compactMap { $0 as? String }
            return items.filter { !$0.hasPrefix("target-") && !$0.hasPrefix("repo") }.sorted().map { item in
                var info = stat()
                lstat(dir.file(item), &info)
                return "\(item) \(String(info.st_mode, radix: 8)) \(info.st_size) \(read(dir.file(item)).hashValue)"
            } + ["root \(rootMode())"]
        }

        func rootMode() -> String {
            var info = stat()
            lstat(dir.path, &info)
            return String(info.st_mode, radix: 8)
        }
    }

    /// Seals `tree` as a snapshot of `tenant` (as a tenant with its key could) and returns its ID.
    static func seal(_ tree: [TreeEntry], in tenant: TenantRepository) async throws -> String {
        let manifest = SnapshotManifest(tenant: tenant.name, time: Date(), hostname: "crafted", source: "/crafted", kind: .tree, tree: tree)
        let sealed = try ManifestCodec(keys: tenant.keys, tenant: tenant.name).seal(manifest)
        let id = Hex.encode(Hasher256.hash(.sha256, sealed))
        try await tenant.repository.backend.write(tenant.snapshotPath(id), sealed, overwrite: false)
        return id
    }

    /// The chunks of a small real file, for crafted file entries to carry.
    static func someChunks(_ tenant: TenantRepository, _ dir: TemporaryDirectory) async throws -> ChunkList {
        write(Array("payload\n".utf8), to: dir.file("payload"))
        let id = try await tenant.backup(.stream(path: dir.file("payload")), options: smallPacks(), now: Date()).snapshotID
        return try await tenant.loadManifest(id).stream!
    }

    static func entry(_ path: String, _ type: EntryType, mode: UInt32 = 0o777, target: String? = nil, chunks: ChunkList? = nil) -> TreeEntry {
        TreeEntry(path: path, type: type, mode: mode, uid: 0, gid: 0, mtimeNanoseconds: 0, ctimeNanoseconds: 0, inode: 0,
                  device: 0, size: Int64(chunks?.totalLength ?? 0), symlinkTarget: target, chunks: chunks)
    }

    /// The tree: `esc -> outside`, then `esc/file`, a directory `esc` with mode 0777,
    /// and `../escape.txt`. Refused before anything is written; `check` names it.
    @Test func theReportedTreeWritesNothingOutside() async throws {
        let box = try Sandbox()
        let tenant = try await makeTenant(box.dir)
        let chunks = try await Self.someChunks(tenant, box.dir)
        let before = box.state()
        let tree = [Self.entry("", .directory, mode: 0o755), Self.entry("esc", .symlink, target: box.outside),
                    Self.entry("esc/file", .file, chunks: chunks), Self.entry("esc", .directory, mode: 0o777),
                    Self.entry("../escape.txt", .file, chunks: chunks)]
        let id = try await Self.seal(tree, in: tenant)
        let error = await #expect(throws: RepositoryError.self) {
            _ = try await tenant.restore(id, to: .path(box.dir.file("target-0")), options: RestoreOptions())
        }
        #expect("\(error!)".contains("unsafe to restore: entry 'esc/file' lies below 'esc', a symlink"))
        #expect(box.state() == before)
        #expect(!FileManager.default.fileExists(atPath: box.dir.file("escape.txt")))
        let report = try await tenant.check(readData: false)
        #expect(report.problems.contains { $0.object == "snapshot \(id)" && $0.problem.contains("lies below 'esc', a symlink") })
    }

    /// Generated trees of hostile shapes: whatever a restore of each does, nothing outside its
    /// target changes, it succeeds exactly when the layout rules pass, and then the target
    /// holds exactly the tree's entries.
    @Test func generatedHostileTreesNeverWriteOutsideTheTarget() async throws {
        let box = try Sandbox()
        let tenant = try await makeTenant(box.dir)
        let chunks = try await Self.someChunks(tenant, box.dir)
        let before = box.state()
        var random = SeededRandom(seed: 6)
        let hostile = ["..", ".", "", "esc"]
        let targets = [box.outside, box.outside + "/sub", "..", "../..", "/", "d0"]
        var restored = 0
        for round in 0..<80 {
            var tree = [Self.entry("", .directory, mode: 0o755)]
            var directories = [""]
            for number in 0..<(2 + random.below(8)) {
                // Mostly a fresh name below an earlier directory or entry; now and then a
                // hostile component, an absolute path or a name used before.
                let parent = random.below(5) == 0 ? tree[random.below(tree.count)].path
                    : random.below(10) == 0 ? ["..", "../..", "esc", "/"][random.below(4)] : directories[random.below(directories.count)]
                var name = random.below(6) == 0 ? hostile[random.below(hostile.count)] : "d\(number)"
                if random.below(8) == 0, tree.count > 1 { name = String(tree[1 + random.below(tree.count - 1)].path.split(separator: "/").last ?? "") }
                var path = parent.isEmpty ? name : parent + "/" + name
                if random.below(12) == 0 { path = box.dir.file("outside/abs-\(round)") }
                switch random.below(4) {
                case 0:
                    tree.append(Self.entry(path, .directory, mode: 0o777))
                    directories.append(path)
                case 1: tree.append(Self.entry(path, .symlink, target: targets[random.below(targets.count)]))
                case 2: tree.append(Self.entry(path, .file, mode: 0o4777, chunks: chunks))
                default: tree.append(Self.entry(path, .file, mode: 0o666, chunks: ChunkList()))
                }
            }
            // Sometimes a directory replaced by a symlink of the same name between two entries.
            if random.below(3) == 0, let dir = tree.dropFirst().first(where: { $0.type == .directory }) {
                tree.append(Self.entry(dir.path, .symlink, target: box.outside))
                tree.append(Self.entry(dir.path + "/planted", .file, chunks: chunks))
            }
            let id = try await Self.seal(tree, in: tenant)
            let target = box.dir.file("target-\(round)")
            let safe = TreeLayout.firstProblem(tree) == nil
            do {
                _ = try await tenant.restore(id, to: .path(target), options: RestoreOptions())
                #expect(safe, "round \(round) restored an unsafe tree")
                let made = Set(FileManager.default.enumerator(atPath: target)!.compactMap { $0 as? String })
                #expect(made == Set(tree.dropFirst().map(\.path)), "round \(round)")
                restored += 1
            } catch {
                #expect(!safe, "round \(round): \(error)")
            }
            #expect(box.state() == before, "round \(round) changed something outside its target")
        }
        #expect(restored > 5 && restored < 75)
    }

    /// The descriptor walk on its own: a directory swapped for a symlink while a restore runs
    /// (after the layout check) is not followed.
    @Test func aDirectorySwappedForASymlinkIsNotFollowed() throws {
        let box = try Sandbox()
        let before = box.state()
        let target = try TargetDirectory(box.dir.file("target-x"))
        try target.makeDirectory("d")
        try FileManager.default.removeItem(atPath: box.dir.file("target-x/d"))
        try FileManager.default.createSymbolicLink(atPath: box.dir.file("target-x/d"), withDestinationPath: box.outside)
        #expect(throws: RepositoryError.self) { _ = try target.createFile("d/x") }
        #expect(throws: RepositoryError.self) { try target.makeDirectory("d/y") }
        #expect(throws: RepositoryError.self) { _ = try target.createFile("../x") }
        #expect(throws: RepositoryError.self) { try target.makeDirectory("a/../../y") }
        #expect(throws: RepositoryError.self) { _ = try target.applyMetadata(Self.entry("d/sub", .directory, mode: 0o777), owners: false) }
        #expect(throws: RepositoryError.self) { _ = try target.applyMetadata(Self.entry("d", .directory, mode: 0o777), owners: false) }
        #expect(box.state() == before)
    }
}

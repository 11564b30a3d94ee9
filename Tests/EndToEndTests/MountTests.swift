import Foundation
import Testing
import TandemTestSupport

/// `tandemctl mount`: a tenant's snapshots through FUSE, read by `diff -r`, `find -printf`,
/// `getfattr`, `stat` and `cmp` against the sources; read-only; a bad mount point refused;
/// unmounted on SIGTERM. Skipped, saying so, where /dev/fuse is missing.
@Suite(.serialized) struct MountTests {
    static var fuseMissing: Bool { access("/dev/fuse", R_OK | W_OK) != 0 }

    static func mounted(_ point: String) -> Bool {
        ((try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? "").contains(" \(point) ")
    }

    @Test func aMountShowsEverySnapshotAsItsSource() throws {
        if Self.fuseMissing {
            report("MountTests: skipped, /dev/fuse is missing or not usable here")
            return
        }
        let scratch = Scratch()
        let root = try DumpTests.makeTree(scratch)
        // Owners other than the mounting user's, kept and shown.
        #expect(lchown(root + "/big.bin", 1234, 5678) == 0 && lchown(root + "/link", 4321, 8765) == 0)
        let disk = scratch.file("disk.raw")
        try (sampleBytes(3 << 20, seed: 5) + Data(count: 2 << 20) + sampleBytes(100_001, seed: 6)).write(to: URL(fileURLWithPath: disk))
        let cli = CLIRunner(repo: scratch.file("repo"))
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create", "--repo", cli.repo, "--tenant", "t"]).expectSuccess()
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "t", disk]).expectSuccess()
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "t", root, "--xattrs"]).expectSuccess()
        let point = scratch.file("mnt")
        try FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)
        let mount = try BackgroundCommand(cli, ["mount", "--repo", cli.repo, "--tenant", "t", point], ready: "mounted the snapshots", scratch: scratch)
        defer { _ = mount.stop() }
        #expect(Self.mounted(point))

        let names = try FileManager.default.contentsOfDirectory(atPath: point + "/snapshots").sorted()
        #expect(names.count == 3 && names.last == "latest", "\(names)")
        let tree = point + "/snapshots/" + (try FileManager.default.destinationOfSymbolicLink(atPath: point + "/snapshots/latest"))
        // The tree: same bytes, names (long, Latin-1), symlinks; same modes, owners, nanosecond mtimes.
        let diff = try DumpTests.run("/usr/bin/diff", ["-r", "--no-dereference", root, tree])
        #expect(diff.status == 0, "\(diff.output)")
        let format = ["-mindepth", "1", "-printf", "%P %y %m %u %g %T@ %l\n"]
        let source = try DumpTests.run("/usr/bin/find", [root] + format).output.split(separator: "\n").sorted()
        let shown = try DumpTests.run("/usr/bin/find", [tree] + format).output.split(separator: "\n").sorted()
        #expect(shown == source, "find -printf differs")
        let xattr = try DumpTests.run("/usr/bin/getfattr", ["--absolute-names", "--only-values", "-n", "user.tandem", tree + "/empty"])
        #expect(xattr.output == "a value", "\(xattr.output)")
        var a = stat(), b = stat()
        #expect(stat(tree + "/big.bin", &a) == 0 && stat(tree + "/hard.bin", &b) == 0 && a.st_ino == b.st_ino && a.st_nlink == 2, "no hard link")
        // The image, as one file named after its source.
        let imageDirectory = try #require(names.first { $0 != "latest" && point + "/snapshots/" + $0 != tree })
        let cmp = try DumpTests.run("/usr/bin/cmp", [disk, point + "/snapshots/\(imageDirectory)/disk.raw"])
        #expect(cmp.status == 0, "\(cmp.output)")
        // Read-only.
        #expect(open(tree + "/new-file", O_WRONLY | O_CREAT, 0o644) == -1 && (errno == EROFS || errno == EACCES), "a file was created")
        #expect(open(tree + "/big.bin", O_WRONLY) == -1, "a file opened for writing")

        // A mount point in use, and one not empty, are refused with the reason.
        let again = try cli.run(["mount", "--repo", cli.repo, "--tenant", "t", point])
        #expect(again.status == 9 && again.stderr.contains("already mounted"), "\(again.stderr)")
        try FileManager.default.createDirectory(atPath: scratch.file("full"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: scratch.file("full/file")))
        let full = try cli.run(["mount", "--repo", cli.repo, "--tenant", "t", scratch.file("full")])
        #expect(full.status == 9 && full.stderr.contains("not empty"), "\(full.stderr)")

        #expect(mount.stop() == 0, "\(mount.text)")
        #expect(!Self.mounted(point) && mount.text.contains("unmounted"), "\(mount.text)")
    }

    @Test func aDamagedChunkReadsAsEIOAndTheMountGoesOn() throws {
        if Self.fuseMissing {
            report("MountTests: skipped, /dev/fuse is missing or not usable here")
            return
        }
        let scratch = Scratch()
        let root = scratch.file("src")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try sampleBytes(2 << 20, seed: 8).write(to: URL(fileURLWithPath: root + "/data.bin"))
        try Data().write(to: URL(fileURLWithPath: root + "/empty"))
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: "data.bin")
        let cli = CLIRunner(repo: scratch.file("repo"))
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create", "--repo", cli.repo, "--tenant", "t"]).expectSuccess()
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "t", root]).expectSuccess()
        try damageEveryPack(repo: cli.repo, tenant: "t")
        let point = scratch.file("mnt")
        try FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)
        let mount = try BackgroundCommand(cli, ["mount", "--repo", cli.repo, "--tenant", "t", point], ready: "mounted the snapshots", scratch: scratch)
        defer { _ = mount.stop() }
        let tree = point + "/snapshots/latest"
        let damaged = try DumpTests.run("/usr/bin/cat", [tree + "/data.bin"])
        #expect(damaged.status != 0 && damaged.output.contains("Input/output error"), "\(damaged.status) \(damaged.output.prefix(200))")
        // The rest of the snapshot still answers.
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: tree + "/link") == "data.bin")
        #expect(FileManager.default.contents(atPath: tree + "/empty") == Data())
        #expect(mount.stop() == 0)
        #expect(mount.text.contains("a read of a mounted file failed"), "\(mount.text)")
    }
}

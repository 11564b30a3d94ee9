import Foundation
import Testing
import TandemTestSupport

/// `tandemctl mount`: a tenant's snapshots through FUSE, read by `diff -r`, `find -printf`,
/// `getfattr`, `stat` and `cmp` against the sources; read-only; a bad mount point refused;
/// unmounted on SIGTERM. Skipped, saying so, where /dev/fuse is missing.
@Suite(.serialized) struct MountTests {
    static var fuseMissing: Bool { access("/dev/fuse", R_OK | W_OK) != 0 }

    /// A `tandemctl mount` process, stopped with SIGTERM.
    final class Mounted {
        let process = Process()
        let output: String
        let point: String

        init(_ cli: CLIRunner, at point: String, scratch: Scratch) throws {
            self.point = point
            output = scratch.file("mount-\(UUID().uuidString.prefix(6)).out")
            FileManager.default.createFile(atPath: output, contents: nil)
            process.executableURL = URL(fileURLWithPath: CLIRunner.binary)
            process.arguments = ["mount", "--repo", cli.repo, "--tenant", "t", point]
            process.environment = cli.environment
            process.standardOutput = FileHandle(forWritingAtPath: output)
            process.standardError = FileHandle(forWritingAtPath: output)
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while !text.contains("mounted the snapshots") {
                guard process.isRunning, Date() < deadline else {
                    throw CLIFailure(arguments: ["mount"], outcome: .init(status: -1, signaled: false, stderr: text, stdoutBytes: Data()))
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        var text: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

        func stop() -> Int32 {
            process.terminate()
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

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
        let mount = try Mounted(cli, at: point, scratch: scratch)
        defer { if mount.process.isRunning { _ = mount.stop() } }
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
}

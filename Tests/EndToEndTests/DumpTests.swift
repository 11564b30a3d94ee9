import Foundation
import Testing
import TandemTestSupport

/// `tandemctl dump --format tar`: a tree snapshot as a pax archive that GNU tar and bsdtar
/// extract to exactly the source (long and non-UTF-8 names, symlinks, hard links, modes,
/// nanosecond mtimes, xattrs).
@Suite struct DumpTests {
    /// A source tree with what archives get wrong; returns its root.
    static func makeTree(_ scratch: Scratch) throws -> String {
        let root = scratch.file("src")
        let fm = FileManager.default
        let long = String(repeating: "long-directory-name-", count: 6)
        try fm.createDirectory(atPath: "\(root)/\(long)/\(long)/deep", withIntermediateDirectories: true)
        try sampleBytes(3 << 20, seed: 7).write(to: URL(fileURLWithPath: "\(root)/big.bin"))
        try Data("small\n".utf8).write(to: URL(fileURLWithPath: "\(root)/\(long)/\(long)/deep/\(String(repeating: "f", count: 120)).txt"))
        try Data().write(to: URL(fileURLWithPath: "\(root)/empty"))
        try fm.createSymbolicLink(atPath: "\(root)/link", withDestinationPath: "big.bin")
        #expect(link("\(root)/big.bin", "\(root)/hard.bin") == 0)
        // caf\xe9.txt: a Latin-1 name no UTF-8 decoding carries.
        let latin1 = Array("\(root)/caf".utf8) + [0xE9] + Array(".txt".utf8) + [0]
        let fd = latin1.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_WRONLY | O_CREAT, 0o640) }
        #expect(fd >= 0)
        _ = write(fd, "latin-1 name\n", 13)
        close(fd)
        let xattr = try run("/usr/bin/setfattr", ["-n", "user.tandem", "-v", "a value", "\(root)/empty"])
        #expect(xattr.status == 0, "the scratch file system keeps no user xattrs: \(xattr.output)")
        chmod("\(root)/big.bin", 0o640)
        chmod("\(root)/\(long)", 0o750)
        // Nanosecond mtimes, set last (children first so the parents' stay).
        var times = [timespec(tv_sec: 1_700_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_700_000_000, tv_nsec: 123_456_789)]
        for path in ["big.bin", "empty", "\(long)/\(long)/deep", "\(long)/\(long)", long] {
            #expect(utimensat(AT_FDCWD, "\(root)/\(path)", &times, 0) == 0)
        }
        return root
    }

    static func run(_ tool: String, _ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe(), input = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = input
        try process.run()
        // Fed from its own thread, so a large input never waits on unread output.
        let feeder = Thread {
            if let stdin { input.fileHandleForWriting.write(stdin) }
            try? input.fileHandleForWriting.close()
        }
        feeder.start()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// `find` listing with modes, mtimes (ns) and link targets, relative to `root`, sorted.
    static func listing(_ root: String) throws -> String {
        let found = try run("/usr/bin/find", [root, "-mindepth", "1", "-printf", "%P %y %m %T@ %l %s\n"])
        return found.output.split(separator: "\n").sorted().joined(separator: "\n")
    }

    @Test func gnuTarAndBsdtarExtractExactlyTheSource() throws {
        let scratch = Scratch()
        let root = try Self.makeTree(scratch)
        let cli = CLIRunner(repo: scratch.file("repo"))
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create", "--repo", cli.repo, "--tenant", "t"]).expectSuccess()
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "t", root, "--xattrs"]).expectSuccess()
        let archive = scratch.file("out.tar")
        let dumped = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest", "--output", archive])
        #expect(dumped.status == 0 && dumped.stderr.contains("dumped"), "\(dumped.stderr)")
        // The same bytes to stdout (a pipe or file, never a terminal).
        let streamed = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest"])
        #expect(streamed.status == 0)
        expectSameBytes(streamed.stdoutBytes, FileManager.default.contents(atPath: archive))
        let expected = try Self.listing(root)
        for (tool, arguments) in [("/usr/bin/tar", ["--xattrs", "--xattrs-include=*", "-xpf", archive, "-C"]), ("/usr/bin/bsdtar", ["-xpf", archive, "-C"])] {
            let target = scratch.file("x-" + (tool as NSString).lastPathComponent)
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let extracted = try Self.run(tool, arguments + [target])
            #expect(extracted.status == 0, "\(tool): \(extracted.output)")
            let diff = try Self.run("/usr/bin/diff", ["-r", "--no-dereference", root, target])
            #expect(diff.status == 0, "\(tool): \(diff.output)")
            #expect(try Self.listing(target) == expected, "\(tool) extracted other metadata")
            // The hard link is a link again, and the xattr came back.
            var a = stat(), b = stat()
            #expect(stat("\(target)/big.bin", &a) == 0 && stat("\(target)/hard.bin", &b) == 0 && a.st_ino == b.st_ino, "\(tool): no hard link")
            let xattr = try Self.run("/usr/bin/getfattr", ["--absolute-names", "--only-values", "-n", "user.tandem", "\(target)/empty"])
            #expect(xattr.output == "a value", "\(tool): \(xattr.output)")
        }
        // A path of the snapshot alone.
        let part = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest", "--path", "link"])
        #expect(part.status == 0, "\(part.stderr)")
        let list = try Self.run("/usr/bin/tar", ["-tvf", "-"], stdin: part.stdoutBytes)
        #expect(list.status == 0 && list.output.contains("link -> big.bin") && list.output.split(separator: "\n").count == 1, "\(list.output)")
    }

    @Test func zipDumpExtractsToTheSourceWithPythonAndBsdtar() throws {
        let scratch = Scratch()
        let root = try Self.makeTree(scratch)
        let cli = CLIRunner(repo: scratch.file("repo"))
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create", "--repo", cli.repo, "--tenant", "t"]).expectSuccess()
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "t", root]).expectSuccess()
        let archive = scratch.file("out.zip")
        let dumped = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest", "--format", "zip", "--output", archive])
        #expect(dumped.status == 0, "\(dumped.stderr)")
        let streamed = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest", "--format", "zip"])
        expectSameBytes(streamed.stdoutBytes, FileManager.default.contents(atPath: archive))
        let unzip = try Self.run("/usr/bin/unzip", ["-tqq", archive])
        #expect(unzip.status == 0, "unzip -t: \(unzip.output)")

        // Python's zipfile: every CRC checks, and every file's bytes (names as bytes) are the source's.
        let extract = """
            import os, sys, zipfile
            os.makedirs(sys.argv[2])
            with zipfile.ZipFile(sys.argv[1]) as z:
                assert z.testzip() is None
                for info in z.infolist():
                    raw = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
                    mode = info.external_attr >> 16
                    path = os.path.join(os.fsencode(sys.argv[2]), raw)
                    if info.is_dir():
                        os.makedirs(path, exist_ok=True)
                    elif mode & 0o170000 == 0o120000:
                        os.symlink(z.read(info), path)
                    else:
                        with open(path, "wb") as out:
                            out.write(z.read(info))
                        os.chmod(path, mode & 0o7777)
            """
        let python = scratch.file("x-python")
        let extracted = try Self.run("/usr/bin/python3", ["-c", extract, archive, python])
        #expect(extracted.status == 0, "zipfile: \(extracted.output)")
        let bsdtar = scratch.file("x-bsdtar")
        try FileManager.default.createDirectory(atPath: bsdtar, withIntermediateDirectories: true)
        let untarred = try Self.run("/usr/bin/bsdtar", ["-xpf", archive, "-C", bsdtar])
        #expect(untarred.status == 0, "bsdtar: \(untarred.output)")
        // Whole-second mtimes (ZIP's UT field), no xattrs, hard links as copies: the rest is the source's.
        let expected = try Self.listing(root).replacingOccurrences(of: #"\.\d{10} "#, with: " ", options: .regularExpression)
        for target in [python, bsdtar] {
            let diff = try Self.run("/usr/bin/diff", ["-r", "--no-dereference", root, target])
            #expect(diff.status == 0, "\(target): \(diff.output)")
        }
        let listed = try Self.listing(bsdtar).replacingOccurrences(of: #"\.\d{10} "#, with: " ", options: .regularExpression)
        #expect(listed == expected, "bsdtar extracted other metadata")
        var a = stat(), b = stat()
        #expect(stat("\(bsdtar)/big.bin", &a) == 0 && stat("\(bsdtar)/hard.bin", &b) == 0 && a.st_size == b.st_size && a.st_size == 3 << 20)
    }

    @Test func anImageOrAMissingPathIsRefused() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create", "--repo", cli.repo, "--tenant", "t"]).expectSuccess()
        try sampleBytes(100_000, seed: 3).write(to: URL(fileURLWithPath: scratch.file("disk.raw")))
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "t", scratch.file("disk.raw")]).expectSuccess()
        let image = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest"])
        #expect(image.status == 9 && image.stderr.contains("is an image; dump it with --format raw or qcow2"), "\(image.stderr)")
        try FileManager.default.createDirectory(atPath: scratch.file("tree"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: scratch.file("tree/a")))
        try cli.run(["backup", "--repo", cli.repo, "--tenant", "t", scratch.file("tree")]).expectSuccess()
        let missing = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest", "--path", "nope"])
        #expect(missing.status == 5, "\(missing.status) \(missing.stderr)")
        let format = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest", "--format", "rar"])
        #expect(format.status == 64 && format.stderr.contains("--format must be tar, zip, raw, qcow2"), "\(format.stderr)")
        // An existing --output is never overwritten.
        try Data("keep".utf8).write(to: URL(fileURLWithPath: scratch.file("exists.tar")))
        let exists = try cli.run(["dump", "--repo", cli.repo, "--tenant", "t", "latest", "--output", scratch.file("exists.tar")])
        #expect(exists.status == 9 && FileManager.default.contents(atPath: scratch.file("exists.tar")) == Data("keep".utf8), "\(exists.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("exists.tar.tandem-partial")))
    }
}

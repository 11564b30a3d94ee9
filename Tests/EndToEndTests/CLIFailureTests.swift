import Foundation
import Testing
import TandemTestSupport

/// Exit statuses and leftovers when a command cannot do what it was asked.
@Suite struct CLIFailureTests {
    /// A source or key file this user may not read is an I/O refusal (7), not "not found" (5).
    @Test(.enabled(if: getuid() == 0, "needs root to run tandemctl as another uid"))
    func permissionDeniedExitsSeven() throws {
        let scratch = Scratch()
        var cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        try cli.run(["init"] + repo).expectSuccess()
        try cli.run(["tenant", "create"] + repo + ["--tenant", "a"]).expectSuccess()
        try sampleBytes(1 << 16, seed: 3).write(to: URL(fileURLWithPath: scratch.file("secret.img")))
        try Data("key material".utf8).write(to: URL(fileURLWithPath: scratch.file("key")))
        mkdir(scratch.file("locked"), 0o700)
        for path in [scratch.file("secret.img"), scratch.file("key")] { chmod(path, 0o600) }
        chmod(scratch.path, 0o755)
        // The repository belongs to the unprivileged user, the sources stay root's.
        let nobody: UInt32 = 65534
        let chown = Process()
        chown.executableURL = URL(fileURLWithPath: "/bin/chown")
        chown.arguments = ["-R", "\(nobody):\(nobody)", cli.repo]
        try chown.run()
        chown.waitUntilExit()
        cli.uid = nobody
        for source in [scratch.file("secret.img"), scratch.file("locked")] {
            let denied = try cli.run(["backup"] + repo + ["--tenant", "a", source])
            #expect(denied.status == 7 && denied.stderr.contains("Permission denied"), "\(source): exit \(denied.status): \(denied.stderr)")
        }
        let key = try cli.run(["snapshots"] + repo + ["--tenant", "a", "--key-file", scratch.file("key")])
        #expect(key.status == 7 && key.stderr.contains("Permission denied"), "exit \(key.status): \(key.stderr)")
        let missing = try cli.run(["backup"] + repo + ["--tenant", "a", scratch.file("absent")])
        #expect(missing.status == 5, "exit \(missing.status): \(missing.stderr)")
        // A tree with an unreadable file and folder: the snapshot is saved, marked incomplete, exit 14.
        let tree = scratch.file("tree")
        mkdir(tree, 0o755)
        try Data("open\n".utf8).write(to: URL(fileURLWithPath: tree + "/readable"))
        try Data("closed\n".utf8).write(to: URL(fileURLWithPath: tree + "/private"))
        chmod(tree + "/private", 0o600)
        mkdir(tree + "/sealed", 0o700)
        let partial = try cli.run(["backup"] + repo + ["--tenant", "a", tree, "--json"])
        #expect(partial.status == 14, "exit \(partial.status): \(partial.stderr)")
        let document = try JSONSerialization.jsonObject(with: partial.stdoutBytes) as? [String: Any]
        #expect(document?["incomplete"] as? Bool == true && document?["entries_unreadable"] as? Int == 2, "\(partial.stdout)")
        let listed = try cli.run(["snapshots"] + repo + ["--tenant", "a"])
        #expect(listed.stdout.contains("(incomplete: 2 unreadable)"), "\(listed.stdout)")
        let records = try cli.jsonArray(["snapshots"] + repo + ["--tenant", "a"])
        #expect(records.last?["unreadable"] as? Int == 2)
    }

    /// `restore IMAGE --target DIR --overwrite` is refused before a byte is written, and no
    /// `.tandem-partial` file is left behind.
    @Test func anImageIsNotRestoredOverADirectory() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        try cli.run(["init"] + repo).expectSuccess()
        try cli.run(["tenant", "create"] + repo + ["--tenant", "a"]).expectSuccess()
        try sampleBytes(1 << 20, seed: 4).write(to: URL(fileURLWithPath: scratch.file("img")))
        try cli.run(["backup"] + repo + ["--tenant", "a", scratch.file("img")]).expectSuccess()
        mkdir(scratch.file("dir"), 0o755)
        let refused = try cli.run(["restore"] + repo + ["--tenant", "a", "latest", "--target", scratch.file("dir"), "--overwrite"])
        #expect(refused.status == 9 && refused.stderr.contains("not a regular file"), "exit \(refused.status): \(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("dir.tandem-partial")))
        // Into a folder that does not exist: nothing is left either.
        let nowhere = try cli.run(["restore"] + repo + ["--tenant", "a", "latest", "--target", scratch.file("no/such/img")])
        #expect(nowhere.status == 7)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("no")))
    }
}

/// A damaged index is a cache: every command moves it aside, says so, and rebuilds it.
@Suite struct DamagedIndexTests {
    /// Overwrites pages `first` and `first + 1` of the file with 0xFF.
    func smash(_ path: String, page first: Int) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: UInt64(first * 4096))
        try handle.write(contentsOf: Data(repeating: 0xFF, count: 2 * 4096))
        try handle.close()
    }

    @Test func restoreAndCheckRebuildAMalformedIndex() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        try cli.run(["init"] + repo).expectSuccess()
        // Small chunks, so the index spans many pages.
        try cli.run(["tenant", "create"] + repo + ["--tenant", "a", "--chunker", "cdc:2K/4K/16K"]).expectSuccess()
        let image = sampleBytes(6 << 20, seed: 5)
        try image.write(to: URL(fileURLWithPath: scratch.file("img")))
        try cli.run(["backup"] + repo + ["--tenant", "a", scratch.file("img")]).expectSuccess()
        let index = cli.repo + "/tenants/a/index.sqlite"
        let pages = Int((try FileManager.default.attributesOfItem(atPath: index)[.size] as? Int ?? 0) / 4096)
        #expect(pages > 20, "the index has only \(pages) pages")
        for (round, page) in [pages / 2, 0, pages - 3].enumerated() {
            try smash(index, page: page)
            let restored = try cli.run(["restore"] + repo + ["--tenant", "a", "latest", "--target", scratch.file("out\(round)")])
            #expect(restored.status == 0, "page \(page): exit \(restored.status): \(restored.stderr)")
            #expect(restored.stderr.contains("is damaged") && restored.stderr.contains("rebuilding"), "page \(page): \(restored.stderr)")
            #expect(FileManager.default.contents(atPath: scratch.file("out\(round)")) == image)
            #expect(FileManager.default.fileExists(atPath: index + ".damaged"))
        }
        try smash(index, page: pages / 2)
        let check = try cli.run(["check"] + repo + ["--tenant", "a", "--rebuild-index", "--read-data"])
        #expect(check.status == 0 && check.stderr.contains("is damaged"), "exit \(check.status): \(check.stdout) \(check.stderr)")
    }
}

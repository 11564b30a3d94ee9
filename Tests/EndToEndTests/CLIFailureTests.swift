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

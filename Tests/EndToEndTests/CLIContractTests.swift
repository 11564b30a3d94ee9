import Foundation
import Testing
import TandemTestSupport

/// The command-line contract other tools rely on: exact forms, `--json` documents, exit statuses.
@Suite struct CLIContractTests {
    @Test func fullCycleThroughTheCLI() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        try cli.run(["init"] + repo).expectSuccess()
        try cli.run(["tenant", "create"] + repo + ["--tenant", "gov", "--suite", "sm4", "--compression", "lz4"]).expectSuccess()
        try sampleBytes(3 << 20, seed: 1).write(to: URL(fileURLWithPath: scratch.file("img")))
        let backup = try cli.json(["backup"] + repo + ["--tenant", "gov", scratch.file("img"), "--tag", "env=prod"])
        for key in ["snapshot_id", "bytes_read", "bytes_new", "bytes_stored", "chunks", "chunks_new", "seconds"] {
            #expect(backup[key] != nil, "backup --json lacks \(key)")
        }
        #expect(backup["bytes_read"] as? Int == 3 << 20)
        let id = try #require(backup["snapshot_id"] as? String)
        // stdin backup and restore to stdout.
        let streamed = try cli.run(["backup"] + repo + ["--tenant", "gov", "-", "--json"], stdin: Data("from stdin\n".utf8))
        try streamed.expectSuccess()
        let snapshots = try cli.jsonArray(["snapshots"] + repo + ["--tenant", "gov"])
        #expect(snapshots.count == 2)
        #expect(snapshots.first?["source"] as? String == scratch.file("img"))
        #expect((snapshots.first?["tags"] as? [String: String]) == ["env": "prod"])
        let out = try cli.run(["restore"] + repo + ["--tenant", "gov", "latest", "--target", "-"])
        #expect(out.stdout == "from stdin\n")
        try cli.run(["restore"] + repo + ["--tenant", "gov", String(id.prefix(10)), "--target", scratch.file("back")]).expectSuccess()
        expectSameBytes(FileManager.default.contents(atPath: scratch.file("back")), sampleBytes(3 << 20, seed: 1))
        let check = try cli.json(["check"] + repo + ["--tenant", "gov", "--read-data"])
        #expect(check["ok"] as? Bool == true)
        let slots = try cli.jsonArray(["key", "list"] + repo + ["--tenant", "gov"])
        #expect(slots.count == 1 && slots[0]["wrapped_key"] == nil)
        // A listing of several tenants is an object holding the list, as status and check are.
        try cli.run(["tenant", "create"] + repo + ["--tenant", "alpha"]).expectSuccess()
        #expect(try cli.json(["tenant", "list"] + repo)["tenants"] as? [String] == ["alpha", "gov"])
    }

    @Test func errorsHaveOneLineAndDistinctStatuses() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        let missingRepo = try cli.run(["snapshots"] + repo + ["--tenant", "x"])
        #expect(missingRepo.status == 5 && missingRepo.stderr.contains("is not a Tandem repository"))
        try cli.run(["init"] + repo).expectSuccess()
        #expect(try cli.run(["init"] + repo).status == 9)
        try cli.run(["tenant", "create"] + repo + ["--tenant", "a"]).expectSuccess()
        let unknown = try cli.run(["snapshots"] + repo + ["--tenant", "b"])
        #expect(unknown.status == 5 && unknown.stderr.contains("unknown tenant 'b' (known: a)"))
        let wrong = try cli.run(["snapshots"] + repo + ["--tenant", "a"], extraEnvironment: ["TANDEM_PASSPHRASE": "nope"])
        #expect(wrong.status == 4 && wrong.stderr.contains("no key slot opens"))
        let badFlag = try cli.run(["tenant", "create"] + repo + ["--tenant", "c", "--compression", "zstd:99"])
        #expect(badFlag.status == 64 && badFlag.stderr.contains("zstd level 99"))
        let badSource = try cli.run(["backup"] + repo + ["--tenant", "a", scratch.file("nothing-here")])
        #expect(badSource.status == 5 && badSource.stderr.contains("nothing-here"))
        let noSnapshot = try cli.run(["restore"] + repo + ["--tenant", "a", "latest", "--target", scratch.file("o")])
        #expect(noSnapshot.status == 5)
        let badWorkers = try cli.run(["backup"] + repo + ["--tenant", "a", "--workers", "0", scratch.file("x")])
        #expect(badWorkers.status == 64 && badWorkers.stderr.contains("--workers"))
        let keepNothing = try cli.run(["forget"] + repo + ["--tenant", "a", "--keep-last", "0"])
        #expect(keepNothing.status == 64 && keepNothing.stderr.contains("keeps nothing"))
        // A repository of a newer format names the problem and exits 6.
        try Data(#"{"format": 2, "id": "x", "createdAt": "2030-01-01T00:00:00Z"}"#.utf8).write(to: URL(fileURLWithPath: cli.repo + "/config"))
        let newer = try cli.run(["snapshots"] + repo + ["--tenant", "a"])
        #expect(newer.status == 6 && newer.stderr.contains("newer than this Tandem supports"))
    }

    @Test func corruptPackMakesCheckFailNamingIt() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo]
        try cli.run(["init"] + repo).expectSuccess()
        try cli.run(["tenant", "create"] + repo + ["--tenant", "a"]).expectSuccess()
        try sampleBytes(1 << 20, seed: 2).write(to: URL(fileURLWithPath: scratch.file("img")))
        try cli.run(["backup"] + repo + ["--tenant", "a", scratch.file("img")]).expectSuccess()
        let packs = FileManager.default.enumerator(atPath: cli.repo + "/tenants/a/packs")!.compactMap { $0 as? String }.filter { $0.count > 60 }
        let pack = cli.repo + "/tenants/a/packs/" + packs[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: pack))
        bytes[4000] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: pack))
        let check = try cli.run(["check"] + repo + ["--read-data"])
        #expect(check.status == 3)
        #expect(check.stdout.contains(String(packs[0].split(separator: "/").last!)))
        // Without the key, a remote-style check still finds it by hash.
        let keyless = try cli.run(["check"] + repo + ["--read-data"], extraEnvironment: ["TANDEM_PASSPHRASE": ""])
        #expect(keyless.status == 3 && keyless.stdout.contains("(without key)"))
        let restore = try cli.run(["restore"] + repo + ["--tenant", "a", "latest", "--target", scratch.file("out")])
        #expect(restore.status == 3 && !FileManager.default.fileExists(atPath: scratch.file("out")))
    }
}

extension CLIRunner.Outcome {
    func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(status == 0, "exit \(status): \(stderr)", sourceLocation: sourceLocation)
        if status != 0 { throw CLIFailure(arguments: [], outcome: self) }
    }
}

@Suite struct CLIHelpTests {
    @Test func helpNamesEverySubcommandAndExitStatus() throws {
        let help = try CLIRunner(repo: "/nonexistent").run(["--help"])
        #expect(help.status == 0)
        for command in ["init", "tenant", "backup", "snapshots", "restore", "check", "forget", "prune", "key", "status", "policy",
                        "audit", "reload", "serve", "dump"] {
            #expect(help.stdout.contains("  \(command) "), "help lacks \(command)")
        }
        for status in ["3 damage found", "4 wrong passphrase", "5 not found", "6 repository or object of a newer format",
                       "8 repository locked", "64 bad command line", "10 tandemd not reachable", "11 refused by tandemd",
                       "12 quota exceeded", "14 backup saved but incomplete", "2 invalid configuration"] {
            #expect(help.stdout.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "  ", with: " ").contains(status),
                    "help lacks exit status '\(status)'")
        }
        let backup = try CLIRunner(repo: "/nonexistent").run(["backup", "--help"])
        #expect(backup.stdout.contains("USAGE: tandemctl backup [--repo <DIR>] [--socket <PATH>] --tenant <tenant>"))
    }

    @Test func secretsNeverReachTheOutput() throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"), passphrase: "p4ss-PHRASE-never-printed")
        let repo = ["--repo", cli.repo]
        var outputs: [CLIRunner.Outcome] = []
        outputs.append(try cli.run(["init"] + repo))
        outputs.append(try cli.run(["tenant", "create"] + repo + ["--tenant", "t", "--json"]))
        try sampleBytes(100_000, seed: 9).write(to: URL(fileURLWithPath: scratch.file("f")))
        outputs.append(try cli.run(["backup"] + repo + ["--tenant", "t", scratch.file("f"), "--json"]))
        outputs.append(try cli.run(["key", "list"] + repo + ["--tenant", "t", "--json"]))
        outputs.append(try cli.run(["snapshots"] + repo + ["--tenant", "t"], extraEnvironment: ["TANDEM_PASSPHRASE": "wrong"]))
        for outcome in outputs {
            #expect(!(outcome.stdout + outcome.stderr).contains("p4ss-PHRASE"))
        }
        #expect(outputs.last?.status == 4)
    }
}

@Suite struct ConcurrentProcessTests {
    /// Two tandemctl backups of one tenant at the same time (backups share the tenant lock):
    /// both commit, the index takes both, and a prune meanwhile is refused rather than racing.
    @Test func twoBackupsAtOnce() async throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo, "--tenant", "t"]
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create"] + repo).expectSuccess()
        try sampleBytes(24 << 20, seed: 11).write(to: URL(fileURLWithPath: scratch.file("a")))
        try sampleBytes(24 << 20, seed: 12).write(to: URL(fileURLWithPath: scratch.file("b")))
        let (a, b) = (scratch.file("a"), scratch.file("b"))
        async let first = cli.run(["backup"] + repo + [a])
        async let second = cli.run(["backup"] + repo + [b])
        let results = try await [first, second]
        for result in results { try result.expectSuccess() }
        #expect(try cli.jsonArray(["snapshots"] + repo).count == 2)
        #expect(try cli.run(["check", "--repo", cli.repo, "--read-data"]).status == 0)
    }
}

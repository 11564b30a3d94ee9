import Foundation
import Testing
import TandemTestSupport

/// kill -9 at every named write step of backup, forget and prune (failure points compiled into
/// the debug build): afterwards `check` is clean, no committed snapshot is lost, restores are
/// exact, and the next backup reuses what the killed one stored.
@Suite(.serialized) struct CrashSweepTests {
    static let backupPoints = [
        "backend.write.before-rename", "backend.write.after-rename", "backup.pack.before-write", "backup.pack.after-write",
        "backup.index.after-commit", "backup.manifest.before-write", "backup.manifest.after-write",
        "backend.write.before-rename@2", "backup.pack.after-write@2",
    ]

    @Test(arguments: backupPoints)
    func backupKilledAt(point: String) throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo, "--tenant", "t"]
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create"] + repo).expectSuccess()
        let v1 = sampleBytes(2 << 20, seed: 3)
        try v1.write(to: URL(fileURLWithPath: scratch.file("img")))
        try cli.run(["backup"] + repo + [scratch.file("img")]).expectSuccess()
        // Version 2 is mostly new data, so the killed backup has several packs to write.
        var v2 = v1
        v2.append(sampleBytes(50 << 20, seed: 4))
        try v2.write(to: URL(fileURLWithPath: scratch.file("img")))
        let killed = try cli.run(["backup"] + repo + [scratch.file("img")], extraEnvironment: ["TANDEM_FAILPOINT": point])
        #expect(killed.signaled, "backup was not killed at \(point): \(killed.status) \(killed.stderr)")
        let check = try cli.run(["check", "--repo", cli.repo, "--read-data"])
        #expect(check.status == 0, "check after kill at \(point): \(check.stdout)")
        let snapshots = try cli.jsonArray(["snapshots"] + repo)
        // The killed backup committed only if it died after its manifest was durable.
        let committed = point == "backup.manifest.after-write"
        #expect(snapshots.count == (committed ? 2 : 1), "\(point)")
        try cli.run(["restore"] + repo + [snapshots[0]["id"] as! String, "--target", scratch.file("v1")]).expectSuccess()
        expectSameBytes(FileManager.default.contents(atPath: scratch.file("v1")), v1)
        let again = try cli.json(["backup"] + repo + [scratch.file("img")])
        if point.hasPrefix("backup.pack.after-write") || point.hasPrefix("backup.index") || point.hasPrefix("backup.manifest") {
            // Every pack the killed run made durable is reused.
            #expect((again["bytes_new"] as! Int) < 40 << 20, "\(point): \(again)")
        }
        try cli.run(["restore"] + repo + ["latest", "--target", scratch.file("v2")]).expectSuccess()
        expectSameBytes(FileManager.default.contents(atPath: scratch.file("v2")), v2)
        #expect(try cli.run(["check", "--repo", cli.repo, "--read-data"]).status == 0)
    }

    @Test(arguments: ["forget.delete.before", "prune.repack.after-write", "prune.index.after-commit", "prune.delete.before",
                      "prune.delete.before@2", "backend.write.after-rename"])
    func maintenanceKilledAt(point: String) throws {
        let scratch = Scratch()
        let cli = CLIRunner(repo: scratch.file("repo"))
        let repo = ["--repo", cli.repo, "--tenant", "t"]
        try cli.run(["init", "--repo", cli.repo]).expectSuccess()
        try cli.run(["tenant", "create"] + repo).expectSuccess()
        var image = sampleBytes(3 << 20, seed: 5)
        var versions: [Data] = []
        for round in 0..<4 {
            image.replaceSubrange(1_000_000 ..< 1_400_000, with: sampleBytes(400_000, seed: UInt64(100 + round)))
            try image.write(to: URL(fileURLWithPath: scratch.file("img")))
            try cli.run(["backup"] + repo + [scratch.file("img")]).expectSuccess()
            versions.append(image)
        }
        let env = ["TANDEM_FAILPOINT": point]
        let forget = try cli.run(["forget"] + repo + ["--keep-last", "2"], extraEnvironment: point.hasPrefix("forget") ? env : [:])
        if point.hasPrefix("forget") {
            #expect(forget.signaled)
            try cli.run(["forget"] + repo + ["--keep-last", "2"]).expectSuccess()
        } else {
            try forget.expectSuccess()
            let prune = try cli.run(["prune"] + repo + ["--repack-threshold", "0.01"], extraEnvironment: env)
            #expect(prune.signaled, "prune was not killed at \(point): \(prune.stderr)")
        }
        let check = try cli.run(["check", "--repo", cli.repo, "--read-data"])
        #expect(check.status == 0, "check after kill at \(point): \(check.stdout)")
        try cli.run(["prune"] + repo).expectSuccess()
        let snapshots = try cli.jsonArray(["snapshots"] + repo)
        #expect(snapshots.count == 2)
        for (index, snapshot) in snapshots.enumerated() {
            try cli.run(["restore"] + repo + [snapshot["id"] as! String, "--target", scratch.file("r\(index)")]).expectSuccess()
            expectSameBytes(FileManager.default.contents(atPath: scratch.file("r\(index)")), versions[2 + index])
        }
        #expect(try cli.run(["check", "--repo", cli.repo, "--read-data"]).status == 0)
    }
}

import Foundation
import Testing
import TandemTestSupport

/// kill -9 of the home site at random points during mirrored backups: every snapshot the home
/// acknowledged before the kill is at the twin and restores byte for byte from it alone, and
/// no half snapshot appears there (check --read-data of the twin's repository is clean).
/// 12 kills by default; TANDEM_LONG_TESTS=1 (as `make test` sets) makes it 100. Not among the
/// serialized site-process suites: it holds no lease (twin, no witness), so it runs beside them,
/// and it waits asynchronously, holding none of the test threads.
@Suite(.serialized) struct TwinCrashTests {
    static let kills = ProcessInfo.processInfo.environment["TANDEM_LONG_TESTS"] == "1" ? 100 : 12

    @Test func acknowledgedSnapshotsSurviveAKillOfTheHomeSiteAtTheTwin() async throws {
        let dir = NSTemporaryDirectory() + "tandem-crash-certs-" + UUID().uuidString.prefix(8).lowercased()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try CLIRunner(repo: "").run(["certs", "init", "--dir", dir, "--site", "home-a", "--site", "home-b"]).status == 0)
        let portA = try SiteProcessTests.TwinEndToEndTests.freePort(), portB = try SiteProcessTests.TwinEndToEndTests.freePort()
        let policy = """
            tenant: alpha
            key: {key_file: $KEY}
            home_site: home-a
            twin: required
            sources:
              - {name: disk, image: $ROOT/data/disk.img}
            """
        let twin = try DaemonProcess(policies: ["alpha": policy], site: "home-b",
                                     extraSite: SiteProcessTests.TwinEndToEndTests.site("home-b", port: portB, twin: "home-a", twinPort: portA, certs: dir))
        let home = try DaemonProcess(policies: ["alpha": policy], files: ["disk.img": Data()], site: "home-a",
                                     extraSite: SiteProcessTests.TwinEndToEndTests.site("home-a", port: portA, twin: "home-b", twinPort: portB, certs: dir))
        // The kills run on a thread of their own: they block on child processes and sleep for
        // exact kill points, and must neither hold nor wait for the test threads the suites
        // running beside them share.
        let sweep = try await OwnThread.run { try Self.killRepeatedly(twin: twin, home: home) }
        let (acknowledged, killedMidway) = (sweep.acknowledged, sweep.killedMidway)
        #expect(try twin.stop() == 0)
        report("twin crash sweep: \(Self.kills) kills, \(acknowledged.count) acknowledged before the kill, \(killedMidway) killed midway")
        #expect(killedMidway > 0 && !acknowledged.isEmpty, "the kill points should cover both sides of the acknowledgement")

        // The home site is gone: the twin's repository alone, with the tenant's key.
        let offline = CLIRunner(repo: twin.repository)
        let check = try offline.run(["check", "--repo", twin.repository, "--tenant", "alpha", "--key-file", home.keyFile, "--read-data"])
        #expect(check.status == 0, "a half snapshot or a damaged pack at the twin: \(check.stdout) \(check.stderr)")
        let held = Set(try offline.jsonArray(["snapshots", "--repo", twin.repository, "--tenant", "alpha", "--key-file", home.keyFile])
            .compactMap { $0["id"] as? String })
        for (id, image) in acknowledged {
            #expect(held.contains(id), "acknowledged snapshot \(id.prefix(12)) is not at the twin")
            let target = twin.root + "/restore-\(id.prefix(12))"
            let restored = try offline.run(["restore", "--repo", twin.repository, "--tenant", "alpha", id, "--target", target,
                                            "--key-file", home.keyFile])
            #expect(restored.status == 0, "\(restored.stderr)")
            expectSameBytes(FileManager.default.contents(atPath: target), image)
            try? FileManager.default.removeItem(atPath: target)
        }
    }

    /// What the kills left: the snapshots acknowledged before their kill (with their images),
    /// and how many backups the kill cut short.
    struct Sweep: @unchecked Sendable {
        var acknowledged: [String: Data] = [:]
        var killedMidway = 0
    }

    /// Starts the twin, then backs up a new image at the home site and kills it with SIGKILL at a
    /// random point, `kills` times. Blocking: run it on its own thread.
    static func killRepeatedly(twin: DaemonProcess, home: DaemonProcess) throws -> Sweep {
        try twin.start()
        var generator = SeededRandom(seed: 4242)
        var acknowledged: [String: Data] = [:]
        var killedMidway = 0
        for run in 0..<Self.kills {
            // A new image each run: a shared part (deduplicated) and a part of its own.
            let image = sampleBytes(3 << 20, seed: 77) + sampleBytes(Int(1 + generator.next() % 3) << 20, seed: UInt64(1000 + run))
            try image.write(to: URL(fileURLWithPath: home.root + "/data/disk.img"))
            try home.start()
            let cli = Process()
            cli.executableURL = URL(fileURLWithPath: CLIRunner.binary)
            cli.arguments = ["backup", "now", "--tenant", "alpha", "--json"]
            cli.environment = home.cli().environment
            let output = Pipe()
            cli.standardOutput = output
            cli.standardError = FileHandle.nullDevice
            try cli.run()
            // Somewhere in the backup, the mirror, or just after the acknowledgement.
            Thread.sleep(forTimeInterval: Double(generator.next() % 900) / 1000)
            home.signal(SIGKILL)
            home.process.waitUntilExit()
            let answer = output.fileHandleForReading.readDataToEndOfFile()
            cli.waitUntilExit()
            if cli.terminationStatus == 0,
               let jobs = (try? JSONSerialization.jsonObject(with: answer) as? [String: Any])?["jobs"] as? [[String: Any]],
               let id = jobs.first?["snapshot_id"] as? String {
                acknowledged[id] = image
            } else {
                killedMidway += 1
            }
        }
        return Sweep(acknowledged: acknowledged, killedMidway: killedMidway)
    }
}

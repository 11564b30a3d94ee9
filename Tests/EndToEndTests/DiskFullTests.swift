import Foundation
import Testing
import TandemTestSupport

/// A repository on a small ext4 (1 KiB blocks, no reserve, loop-mounted) filled to many levels
/// before a backup, a prune and a check: every command ends with 0 or 7 (never a signal,
/// never "unexpected"), a backup reports success exactly when its snapshot exists, and once
/// space is freed check is clean and every snapshot restores byte for byte. Among the
/// serialized process suites: its dozens of tandemctl runs would starve the daemons' heartbeats.
extension SiteProcessTests {
    @Suite struct DiskFullTests {
        static var usable: Bool {
            getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/mkfs.ext4")
                && FileManager.default.fileExists(atPath: "/dev/loop-control")
        }

        @discardableResult
        static func system(_ arguments: [String]) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }

        /// Bytes free on the file system holding `path`.
        static func free(_ path: String) -> Int {
            var info = statvfs()
            statvfs(path, &info)
            return Int(info.f_bavail) * Int(info.f_frsize)
        }

        @Test(.enabled(if: usable, "needs root, mkfs.ext4 and loop devices"))
        func aFillingDiskNeverCrashesOrLies() throws {
            let scratch = Scratch()
            let mount = scratch.file("mnt")
            mkdir(mount, 0o755)
            #expect(try Self.system(["truncate", "-s", "24M", scratch.file("fs.img")]) == 0)
            #expect(try Self.system(["mkfs.ext4", "-q", "-m", "0", "-b", "1024", "-F", scratch.file("fs.img")]) == 0)
            guard try Self.system(["mount", "-o", "loop", scratch.file("fs.img"), mount]) == 0 else {
                Issue.record("could not loop-mount an ext4 image")
                return
            }
            defer { _ = try? Self.system(["umount", mount]) }
            let base = [UInt8](sampleBytes(1 << 20, seed: 30))
            let big = sampleBytes(4 << 20, seed: 31).map { $0 ^ 0xA5 }
            try Data(base).write(to: URL(fileURLWithPath: scratch.file("base.img")))
            try Data(big).write(to: URL(fileURLWithPath: scratch.file("big.img")))
            let long = ProcessInfo.processInfo.environment["TANDEM_LONG_TESTS"] == "1"
            // Round 0 measures what the big backup takes with room to spare; the sweep leaves
            // from a little under that (the pack written, then the index, manifest and catalog
            // steps running out) to a little over, in fine steps, after a few coarse levels.
            var levels = [Int.max]
            var outcomes: [String] = []
            var round = 0
            while round < levels.count {
                let level = levels[round]
                defer { round += 1 }
                let cli = CLIRunner(repo: mount + "/repo")
                let repo = ["--repo", cli.repo]
                try? FileManager.default.removeItem(atPath: cli.repo)
                try? FileManager.default.removeItem(atPath: mount + "/filler")
                try cli.run(["init"] + repo).expectSuccess()
                try cli.run(["tenant", "create"] + repo + ["--tenant", "t"]).expectSuccess()
                let first = try cli.json(["backup"] + repo + ["--tenant", "t", scratch.file("base.img")])
                let firstID = try #require(first["snapshot_id"] as? String)
                let before = Self.free(mount)
                if level < before { #expect(try Self.system(["fallocate", "-l", "\(before - level)", mount + "/filler"]) == 0) }

                let backup = try cli.run(["backup"] + repo + ["--tenant", "t", scratch.file("big.img"), "--json"])
                if level == .max {
                    try backup.expectSuccess()
                    let needed = before - Self.free(mount)
                    levels += [64 << 10, needed / 2] + stride(from: needed - 16 << 10, to: needed + 32 << 10, by: long ? 8192 : 16384)
                }
                let forget = try cli.run(["forget"] + repo + ["--tenant", "t", "--keep-last", "1"])
                // Every pack rewritten: prune itself needs space on the full disk.
            let prune = try cli.run(["prune"] + repo + ["--tenant", "t", "--repack-threshold", "0"])
                let check = try cli.run(["check"] + repo + ["--tenant", "t", "--read-data"])
                outcomes.append("\(level): backup \(backup.status) forget \(forget.status) prune \(prune.status) check \(check.status)")
                for (name, outcome) in [("backup", backup), ("forget", forget), ("prune", prune), ("check", check)] {
                    #expect(!outcome.signaled && [0, 7].contains(outcome.status),
                            "round \(round), \(level) bytes free: \(name) exit \(outcome.status): \(outcome.stderr)")
                }

                try? FileManager.default.removeItem(atPath: mount + "/filler")
                let records = try cli.jsonArray(["snapshots"] + repo + ["--tenant", "t"])
                let listed = records.compactMap { $0["id"] as? String }
                let ofBig = records.filter { ($0["source"] as? String)?.hasSuffix("big.img") == true }.compactMap { $0["id"] as? String }
                if backup.status == 0 {
                    let id = try JSONSerialization.jsonObject(with: backup.stdoutBytes) as? [String: Any]
                    #expect(ofBig == [id?["snapshot_id"] as? String ?? "?"], "round \(round): a backup reported done is not listed")
                } else {
                    #expect(ofBig.isEmpty, "round \(round): a backup reported failed left a snapshot: \(ofBig)")
                }
                // Whatever forget managed, the first snapshot is still there unless a newer one is.
                #expect(listed.contains(firstID) || listed.count == 1)
                let clean = try cli.run(["check"] + repo + ["--tenant", "t", "--read-data"])
                #expect(clean.status == 0, "round \(round): \(clean.stdout) \(clean.stderr)")
                for id in listed {
                    let out = scratch.file("out-\(round)-\(id.prefix(8))")
                    try cli.run(["restore"] + repo + ["--tenant", "t", id, "--target", out]).expectSuccess()
                    let restored = FileManager.default.contents(atPath: out)
                    #expect(restored == Data(id == firstID ? base : big), "round \(round): snapshot \(id.prefix(8)) restored wrong")
                    try? FileManager.default.removeItem(atPath: out)
                }
            }
            // The sweep must reach both ends: failures and successes.
            #expect(outcomes.contains { $0.contains("backup 7") } && outcomes.contains { $0.contains("backup 0") }, "\(outcomes)")
        }
    }
}

import ArgumentParser
import Foundation

/// `tandem-bench run --data DIR [--vs restic] [--vs borg]`: init, two image backups, restore,
/// full check and two tree backups, for Tandem and the chosen peers, interleaved per step.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End-to-end backup/restore/check benchmark of tandem against restic and borg.",
        discussion: """
            DIR is the output of `gen_dataset.py --seed 42 --out DIR`. Inputs are read once before
            each tool's step so every tool reads from the page cache; no caches are dropped.
            While the tree steps run, DIR/tree-v1 (then tree-v2) is renamed to WORK/tree and back,
            so both trees are backed up from the same path with their inodes and ctimes intact.
            WORK must be on the same file system as DIR.
            """)

    @Option(help: "Dataset directory (gen_dataset.py output).") var data: String
    @Option(name: .customLong("vs"), help: "A peer tool to compare with: restic or borg (repeatable).") var peers: [String] = []
    @Option(name: .customLong("suite"), help: "Tandem's crypto suite: aes256gcm, sm4, sm4gcm or sm4ctr (repeatable: one Tandem per suite, interleaved).")
    var suites: [String] = ["aes256gcm"]
    @Option(help: "Rounds (fresh repositories each); the median-wall round is reported.") var rounds: Int = 1
    @Option(help: "Working directory for repositories (default: DATA/../tandem-bench-work).") var work: String?
    @Option(help: "tandemctl binary (default: next to this executable).") var tandemctl: String?
    @Option(help: "Also write the tables as Markdown to this file.") var markdown: String?
    @Flag(help: "Keep the repositories afterwards.") var keep = false
    @Flag(help: "Print one JSON document instead of tables.") var json = false

    func validate() throws {
        for peer in peers where !["restic", "borg"].contains(peer) { throw ValidationError("--vs must be restic or borg, not '\(peer)'") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        for suite in suites where !["aes256gcm", "sm4", "sm4gcm", "sm4ctr"].contains(suite) {
            throw ValidationError("--suite must be aes256gcm, sm4, sm4gcm or sm4ctr, not '\(suite)'")
        }
        guard Set(suites).count == suites.count else { throw ValidationError("--suite names a suite twice") }
    }

    func run() throws {
        let machine = Machine.current()
        let dataset = try Dataset(directory: data)
        let workDir = work ?? URL(fileURLWithPath: dataset.directory).deletingLastPathComponent().appendingPathComponent("tandem-bench-work").path
        try Files.makeDirectory(workDir)
        let workPath = try Files.realPath(workDir)
        guard Files.device(workPath) == Files.device(dataset.directory) else {
            throw BenchError("--work \(workPath) is not on the file system of \(dataset.directory); the tree steps rename directories")
        }
        let scratch = workPath + "/logs"
        try Files.makeDirectory(scratch)
        let tandemctl = try TandemTool.locate(override: self.tandemctl)
        var inventory = suites.map { ToolInventory(name: TandemTool.name(suite: $0), path: tandemctl, version: "tandemctl at \(tandemctl), --suite \($0)", note: nil) }
        var notes = [
            "MB/s = step's data bytes / wall s (10^6 B/s): image size for image steps, tree bytes for tree steps (tree-v2 mostly skipped by metadata), image-v1 for restore, image-v1 + image-v2 for check.",
            "restore image-v1, until on disk = the restore's wall time plus an fsync of the restored image run right after it: Tandem's restore fsyncs before it returns, restic's and Borg's leave the image in the page cache.",
            "CPU s = user + system time of the tool's process(es); peak RSS = ru_maxrss from wait4 on that child; repo = sum of file sizes in the repository after the step.",
            "tandem: tenant defaults (FastCDC 16K/64K/256K, zstd:3 in 4 MiB groups), suite aes256gcm unless the name says (tandem-sm4 = `--suite sm4`, SM4-GCM + SM3); init = `init` + `tenant create`; check = `check --read-data`.",
        ]
        var resticCompression = false
        for peer in Array(Set(peers)).sorted(by: { $0 > $1 }) {
            guard let path = ChildProcess.which(peer) else {
                inventory.append(ToolInventory(name: peer, path: nil, version: nil, note: "not installed: skipped"))
                notes.append("\(peer) was asked for but is not in PATH: skipped.")
                Log.info("warning: \(peer) not found in PATH, skipping it")
                continue
            }
            let version = ChildProcess.firstLine(peer == "restic" ? [path, "version"] : [path, "--version"], scratch: scratch)
            inventory.append(ToolInventory(name: peer, path: path, version: version, note: nil))
            if peer == "restic" {
                resticCompression = ResticTool.supportsCompression(binary: path, scratch: scratch)
                notes.append(resticCompression
                    ? "restic: `init --repository-version 2`, `backup --compression auto`; check = `check --read-data`; restore = `restore --target`."
                    : "restic: this version has no compression (repository v1).")
            } else {
                notes.append("borg: `init -e repokey`, `create --compression lz4`; check = `check --verify-data`; restore = `extract`.")
            }
        }
        let passphrase = "tandem-bench-passphrase"
        let available = inventory.filter { $0.path != nil }
        let keep = self.keep
        let suiteOf = Dictionary(uniqueKeysWithValues: suites.map { (TandemTool.name(suite: $0), $0) })
        let plan = RunPlan(dataset: dataset, work: workPath, makeTools: { round in
            let roundDir = workPath + "/round-\(round)"
            try Files.remove(roundDir)
            return try available.map { tool -> any BackupTool in
                let place = ToolPlace(root: roundDir + "/" + tool.name, scratch: scratch, passphrase: passphrase)
                try Files.makeDirectory(place.root)
                switch tool.name {
                case "restic": return ResticTool(binary: tool.path!, place: place, compression: resticCompression)
                case "borg": return BorgTool(binary: tool.path!, place: place)
                default: return TandemTool(binary: tool.path!, place: place, suite: suiteOf[tool.name] ?? "aes256gcm")
                }
            }
        }, finishRound: { round in
            if !keep { try Files.remove(workPath + "/round-\(round)") }
        })
        try plan.run(rounds: rounds)
        let report = RunReport(machine: machine, dataset: dataset, tools: inventory, rounds: rounds, notes: notes,
                               measurements: plan.measurements)
        if let markdown { try report.markdown().write(toFile: markdown, atomically: true, encoding: .utf8) }
        if json { try JSONOutput.print(report) } else { print(report.text()) }
    }
}

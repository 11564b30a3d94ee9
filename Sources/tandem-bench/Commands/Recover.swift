import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `tandem-bench recover --data DIR [--vs restic]`: recovery without a full restore. Serves
/// image-v1 over NBD (`tandemctl serve`) and times the first read, random 4 KiB reads with a
/// cold and a warm cache, and a whole `nbdcopy` against `tandemctl restore`; dumps tree-v1 as
/// tar against `restic dump`, and reads it with tar through `tandemctl mount`. Interleaved
/// round by round.
struct Recover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recovery without a full restore: NBD first read, random reads, nbdcopy vs restore, server RSS; dump tar vs restic dump; tar through a mount.",
        discussion: """
            Backs up image-v1 and tree-v1 once (Tandem; restic too with --vs restic), then per round, in \
            alternating order: `tandemctl restore` of image-v1 (fsynced); a `tandemctl serve` session \
            opening the tenant with a key file, as tandemd does (first 4 KiB read at offset 0 timed from the spawn; --reads random 4 KiB reads over the whole \
            image with a cold cache; the same number within the first half of the cache after reading it \
            once, warm; `nbdcopy` of the whole image to a file plus its fsync, then to null:; the server's peak RSS); \
            `tandemctl dump` of tree-v1 as tar and `restic dump` of the same tree, each to a file; a \
            `tandemctl mount` (offline, key file) read by GNU tar into a file, cold and then warm, and the mount's peak RSS \
            (skipped without /dev/fuse).
            """)

    @Option(help: "Dataset directory (gen_dataset.py output).") var data: String
    @Option(help: "Rounds; the median of each figure is reported.") var rounds: Int = 3
    @Option(help: "Random 4 KiB reads per cache state.") var reads: Int = 10_000
    @Option(help: "The server's cache in MiB (tandemctl serve --cache-mib).") var cacheMib: Int = 64
    @Option(name: .customLong("vs"), help: "restic: also time `restic dump` of tree-v1.") var peers: [String] = []
    @Option(help: "Working directory (default: DATA/../tandem-bench-work).") var work: String?
    @Option(help: "tandemctl binary (default: next to this executable).") var tandemctl: String?
    @Flag(help: "Print one JSON document instead of a table.") var json = false

    /// One round's figures.
    struct Round: Encodable {
        var restoreSeconds = 0.0
        var firstReadSeconds = 0.0
        var coldP50Milliseconds = 0.0
        var coldP99Milliseconds = 0.0
        var warmP50Milliseconds = 0.0
        var warmP99Milliseconds = 0.0
        /// nbdcopy of the whole image plus the fsync of its output; nil without nbdcopy.
        var nbdcopySeconds: Double?
        /// nbdcopy of the whole image to `null:` (the server's side alone); nil without nbdcopy.
        var nbdcopyNullSeconds: Double?
        var serverPeakRSS: Int64 = 0
        var dumpTarSeconds = 0.0
        var dumpTarPeakRSS: Int64 = 0
        var resticDumpSeconds: Double?
        var resticDumpPeakRSS: Int64?
        /// tar of tree-v1 through a mount into a file; nil without /dev/fuse.
        var mountTarColdSeconds: Double?
        var mountTarWarmSeconds: Double?
        var mountPeakRSS: Int64?
    }

    struct Output: Encodable {
        let machine: Machine
        let imageBytes: Int64
        let treeBytes: Int64
        let reads: Int
        let cacheMiB: Int
        let rounds: [Round]
    }

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard reads >= 100 else { throw ValidationError("--reads must be at least 100") }
        guard cacheMib >= 8 else { throw ValidationError("--cache-mib must be at least 8") }
        for peer in peers where peer != "restic" { throw ValidationError("--vs must be restic, not '\(peer)'") }
    }

    func run() throws {
        let machine = Machine.current()
        let dataset = try Dataset(directory: data)
        let workPath = work ?? URL(fileURLWithPath: dataset.directory).deletingLastPathComponent().appendingPathComponent("tandem-bench-work").path
        let root = workPath + "/recover"
        try Files.remove(root)
        try Files.makeDirectory(root + "/logs")
        let lab = try RecoverLab(root: root, tandemctl: TandemTool.locate(override: tandemctl), dataset: dataset,
                                 restic: peers.contains("restic") ? ChildProcess.which("restic") : nil,
                                 nbdcopy: ChildProcess.which("nbdcopy"), tar: ChildProcess.which("tar"), cacheMiB: cacheMib)
        if peers.contains("restic") && lab.restic == nil { Log.info("warning: restic not found in PATH, skipping it") }
        if lab.nbdcopy == nil { Log.info("warning: nbdcopy not found in PATH (Debian: libnbd-bin), skipping the copy") }
        try lab.prepare()
        var results: [Round] = []
        for round in 1...rounds {
            Log.info("recover round \(round)/\(rounds)")
            var figures = Round()
            let order: [RecoverLab.Part] = round % 2 == 1 ? [.restore, .serve, .dump, .mount] : [.mount, .dump, .serve, .restore]
            for part in order { try lab.measure(part, into: &figures, reads: reads, round: round) }
            results.append(figures)
        }
        try Files.remove(root)
        let output = Output(machine: machine, imageBytes: dataset.imageV1Bytes, treeBytes: dataset.treeV1Bytes, reads: reads,
                            cacheMiB: cacheMib, rounds: results)
        if json {
            try JSONOutput.print(output)
        } else {
            print(Self.table(output))
        }
    }

    /// The medians as a table, with the goals of issue 20 beside them.
    static func table(_ output: Output) -> String {
        let rounds = output.rounds
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func seconds(_ key: KeyPath<Round, Double>) -> Double { median(rounds.map { $0[keyPath: key] }) }
        let mb = { (bytes: Int64, seconds: Double) in Units.megabytesPerSecond(bytes, seconds) }
        var table = Table(["recovery step", "median", "all rounds"], leftAligned: [0])
        func row(_ name: String, _ values: [Double], _ unit: String, digits: Int = 2) {
            table.add([name, Units.fixed(median(values), digits) + " " + unit, values.map { Units.fixed($0, digits) }.joined(separator: " ")])
        }
        row("restore image-v1 (fsynced)", rounds.map(\.restoreSeconds), "s")
        row("serve: spawn to first 4 KiB read", rounds.map(\.firstReadSeconds), "s", digits: 3)
        row("random 4 KiB read, cold, p50", rounds.map(\.coldP50Milliseconds), "ms", digits: 3)
        row("random 4 KiB read, cold, p99", rounds.map(\.coldP99Milliseconds), "ms", digits: 3)
        row("random 4 KiB read, warm, p50", rounds.map(\.warmP50Milliseconds), "ms", digits: 3)
        row("random 4 KiB read, warm, p99", rounds.map(\.warmP99Milliseconds), "ms", digits: 3)
        let copies = rounds.compactMap(\.nbdcopySeconds)
        if !copies.isEmpty {
            row("nbdcopy image-v1 (fsynced)", copies, "s")
            row("nbdcopy image-v1 to null:", rounds.compactMap(\.nbdcopyNullSeconds), "s")
        }
        row("server peak RSS", rounds.map { Units.mib($0.serverPeakRSS) }, "MiB", digits: 0)
        row("dump tree-v1 --format tar", rounds.map(\.dumpTarSeconds), "s")
        let restic = rounds.compactMap(\.resticDumpSeconds)
        if !restic.isEmpty { row("restic dump of tree-v1", restic, "s") }
        let mountCold = rounds.compactMap(\.mountTarColdSeconds)
        if !mountCold.isEmpty {
            row("tar of tree-v1 through mount, cold", mountCold, "s")
            row("tar of tree-v1 through mount, warm", rounds.compactMap(\.mountTarWarmSeconds), "s")
            row("mount peak RSS", rounds.compactMap(\.mountPeakRSS).map(Units.mib), "MiB", digits: 0)
        }
        var lines = ["machine: \(output.machine.summary)",
                     "image-v1 \(Units.fixed(Units.mib(output.imageBytes), 0)) MiB, tree-v1 \(Units.fixed(Units.mib(output.treeBytes), 0)) MiB; "
                         + "\(output.reads) random reads per cache state; server cache \(output.cacheMiB) MiB; \(rounds.count) round(s)",
                     table.text()]
        let restoreMBps = mb(output.imageBytes, seconds(\.restoreSeconds))
        if !copies.isEmpty {
            let copyMBps = mb(output.imageBytes, median(copies))
            lines.append("nbdcopy \(Units.fixed(copyMBps, 0)) MB/s against restore \(Units.fixed(restoreMBps, 0)) MB/s: "
                         + "\(Units.fixed(copyMBps / restoreMBps, 2))x (goal: at least 0.8x); to null: "
                         + "\(Units.fixed(mb(output.imageBytes, median(rounds.compactMap(\.nbdcopyNullSeconds))) / restoreMBps, 2))x")
        }
        lines.append("first read \(Units.fixed(seconds(\.firstReadSeconds), 3)) s (goal: under 0.5 s); "
                     + "server peak RSS \(Units.fixed(Units.mib(rounds.map(\.serverPeakRSS).max() ?? 0), 0)) MiB at most (goal: under 256 MiB)")
        if !restic.isEmpty {
            lines.append("dump tar \(Units.fixed(seconds(\.dumpTarSeconds), 2)) s against restic dump \(Units.fixed(median(restic), 2)) s: "
                         + "\(Units.fixed(median(restic) / seconds(\.dumpTarSeconds), 2))x restic's speed (goal: at least 1x)")
        }
        return lines.joined(separator: "\n")
    }
}

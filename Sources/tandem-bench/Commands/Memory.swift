import ArgumentParser
import Foundation

/// `tandem-bench memory --data DIR`: peak RSS of a tandem backup of a 256 MiB prefix of
/// image-v1 against one of the whole image, each into a fresh repository: memory must not grow
/// with the source.
struct Memory: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Peak RSS of tandem backing up a 256 MiB prefix of image-v1 versus the whole image.")

    @Option(help: "Dataset directory (gen_dataset.py output).") var data: String
    @Option(help: "Size of a prefix to back up (K/M/G; repeatable).") var prefix: [String] = ["256M"]
    @Option(help: "Working directory (default: DATA/../tandem-bench-work).") var work: String?
    @Option(help: "tandemctl binary (default: next to this executable).") var tandemctl: String?
    @Flag(help: "Print one JSON document instead of a table.") var json = false

    /// One backup's cost.
    struct Row: Encodable {
        let source: String
        let sourceBytes: Int64
        let wallSeconds: Double
        let cpuSeconds: Double
        let megabytesPerSecond: Double
        let peakRSSBytes: Int64
    }

    /// `--json` document.
    struct Output: Encodable {
        let machine: Machine
        let rows: [Row]
    }

    func run() throws {
        let prefixes = try prefix.map { text in
            guard let bytes = Units.parseSize(text) else { throw ValidationError("--prefix '\(text)' is not a size") }
            return bytes
        }
        let machine = Machine.current()
        let dir = try Files.realPath(data)
        let image = dir + "/image-v1.raw"
        guard let imageBytes = Files.size(image) else { throw BenchError("\(image) not found") }
        let workPath = work ?? URL(fileURLWithPath: dir).deletingLastPathComponent().appendingPathComponent("tandem-bench-work").path
        let root = workPath + "/memory"
        try Files.remove(root)
        try Files.makeDirectory(root + "/logs")
        defer { try? Files.remove(root) }
        let binary = try TandemTool.locate(override: tandemctl)
        let prefixFile = root + "/image-v1-prefix.raw"
        var rows: [Row] = []
        let sources = prefixes.map { (prefixFile, min(Int64($0), imageBytes)) } + [(image, imageBytes)]
        for (index, (source, bytes)) in sources.enumerated() {
            if source == prefixFile { try Files.copyPrefix(image, to: prefixFile, count: bytes) }
            let tool = TandemTool(binary: binary, place: ToolPlace(root: root + "/repo-\(index)", scratch: root + "/logs",
                                                                    passphrase: "tandem-bench-passphrase"))
            try Files.makeDirectory(tool.place.root)
            _ = try tool.initialize()
            Files.warm(source)
            let cost = try tool.backup(source, label: "image")
            let name = source == prefixFile ? "image-v1, first \(Units.fixed(Units.mib(bytes), 0)) MiB" : "image-v1, whole"
            rows.append(Row(source: name, sourceBytes: bytes, wallSeconds: cost.wallSeconds, cpuSeconds: cost.cpuSeconds,
                            megabytesPerSecond: Units.megabytesPerSecond(bytes, cost.wallSeconds), peakRSSBytes: cost.peakRSSBytes))
            Log.info("  \(name): \(Units.fixed(Units.mib(cost.peakRSSBytes), 1)) MiB peak RSS")
            try Files.remove(tool.place.root)
            if source == prefixFile { try Files.remove(prefixFile) }
        }
        if json {
            try JSONOutput.print(Output(machine: machine, rows: rows))
            return
        }
        var table = Table(["source", "MiB", "MB/s", "wall s", "CPU s", "peak RSS MiB"])
        for r in rows {
            table.add([r.source, Units.fixed(Units.mib(r.sourceBytes), 0), Units.fixed(r.megabytesPerSecond, 1), Units.fixed(r.wallSeconds, 2),
                       Units.fixed(r.cpuSeconds, 2), Units.fixed(Units.mib(r.peakRSSBytes), 1)])
        }
        print("machine: \(machine.summary)")
        print("tandem backup into a fresh repository each (tenant defaults); peak RSS = ru_maxrss of the tandemctl child\n")
        print(table.text())
    }
}

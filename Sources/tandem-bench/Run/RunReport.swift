import Foundation

/// One Tandem suite's figures relative to one peer (or to the default suite) for one step.
struct Ratio: Encodable {
    let step: Step
    /// The Tandem tool: `tandem` (default suite) or `tandem-SUITE`.
    let tool: String
    let peer: String
    /// tandem MB/s / peer MB/s (higher is better for tandem); nil for init.
    let throughput: Double?
    /// tandem repository bytes / peer's (lower is better).
    let repositorySize: Double?
    /// tandem peak RSS / peer's (lower is better).
    let peakRSS: Double?
}

/// Repository growth caused by one backup: size after it minus size before it.
struct Growth: Encodable {
    let tool: String
    let step: Step
    let bytes: Int64
}

/// Turns measurements into the per-step tables, ratios and growth figures (the median-wall
/// round of each step and tool when there are several rounds).
struct RunReport: Encodable {
    let machine: Machine
    let dataset: Dataset
    let tools: [ToolInventory]
    let rounds: Int
    let notes: [String]
    let selected: [Measurement]
    let ratios: [Ratio]
    let growth: [Growth]
    let measurements: [Measurement]

    init(machine: Machine, dataset: Dataset, tools: [ToolInventory], rounds: Int, notes: [String], measurements: [Measurement]) {
        self.machine = machine
        self.dataset = dataset
        self.tools = tools
        self.rounds = rounds
        self.measurements = measurements
        let names = tools.filter { $0.path != nil }.map(\.name)
        var selected: [Measurement] = []
        for step in Step.allCases {
            for name in names {
                let all = measurements.filter { $0.step == step && $0.tool == name }.sorted { $0.wallSeconds < $1.wallSeconds }
                if !all.isEmpty { selected.append(all[(all.count - 1) / 2]) }
            }
        }
        self.selected = selected
        func pick(_ step: Step, _ tool: String) -> Measurement? { selected.first { $0.step == step && $0.tool == tool } }
        var ratios: [Ratio] = []
        // Each Tandem suite against each peer, and every other suite against the default one.
        let tandems = names.filter { $0.hasPrefix("tandem") }
        for step in Step.allCases {
            for tool in tandems {
                guard let mine = pick(step, tool) else { continue }
                for peer in names where !peer.hasPrefix("tandem") || (peer == "tandem" && tool != "tandem") {
                    guard let theirs = pick(step, peer) else { continue }
                    let throughput = mine.bytes > 0 && mine.wallSeconds > 0 ? theirs.wallSeconds / mine.wallSeconds : nil
                    ratios.append(Ratio(step: step, tool: tool, peer: peer, throughput: throughput,
                                        repositorySize: step.isBackup ? Self.ratio(mine.repositoryBytes, theirs.repositoryBytes) : nil,
                                        peakRSS: Self.ratio(mine.peakRSSBytes, theirs.peakRSSBytes)))
                }
            }
        }
        self.ratios = ratios
        var growth: [Growth] = []
        for name in names {
            for (before, after) in [(Step.backupImageV1, Step.backupImageV2), (.check, .backupTreeV1), (.backupTreeV1, .backupTreeV2)] {
                if let b = pick(before, name), let a = pick(after, name) {
                    growth.append(Growth(tool: name, step: after, bytes: a.repositoryBytes - b.repositoryBytes))
                }
            }
        }
        self.growth = growth
        self.notes = notes + Self.facts(selected, names)
    }

    /// Checks worth stating next to the numbers: restores verified, files skipped by metadata.
    private static func facts(_ selected: [Measurement], _ names: [String]) -> [String] {
        var facts: [String] = []
        let restores = names.compactMap { name in
            selected.first { $0.step == .restoreImageV1 && $0.tool == name }
                .map { "\(name) \($0.details["restored_sha256_matches"] == "true" ? "yes" : "NO")" }
        }
        if !restores.isEmpty { facts.append("restored image-v1 identical to the source (SHA-256): " + restores.joined(separator: ", ") + ".") }
        let skipped = names.compactMap { name -> String? in
            guard let m = selected.first(where: { $0.step == .backupTreeV2 && $0.tool == name }) else { return nil }
            if let unchanged = m.details["files_unchanged"], let files = m.details["files"] { return "\(name) \(unchanged) of \(files) files" }
            if let unmodified = m.details["files_unmodified"] { return "\(name) \(unmodified) files unmodified" }
            return "\(name) (not reported)"
        }
        if !skipped.isEmpty { facts.append("tree-v2 files recognised as unchanged by metadata: " + skipped.joined(separator: ", ") + ".") }
        return facts
    }

    private static func ratio(_ a: Int64, _ b: Int64) -> Double? { b > 0 ? Double(a) / Double(b) : nil }

    /// Step | Tool | MB/s | wall | CPU | RSS | repo.
    func mainTable() -> Table {
        var table = Table(["step", "tool", "MB/s", "wall s", "CPU s", "peak RSS MiB", "repo MiB"], leftAligned: [0, 1])
        for m in selected {
            table.add([m.step.rawValue, m.tool, m.megabytesPerSecond.map { Units.fixed($0, 1) } ?? "-", Units.fixed(m.wallSeconds, 2),
                       Units.fixed(m.cpuSeconds, 2), Units.fixed(Units.mib(m.peakRSSBytes), 1), Units.fixed(Units.mib(m.repositoryBytes), 1)])
        }
        return table
    }

    /// Tandem relative to each peer.
    func ratioTable() -> Table {
        var table = Table(["step", "tool", "vs", "throughput (higher better)", "repo size (lower better)", "peak RSS (lower better)"],
                          leftAligned: [0, 1, 2])
        func format(_ value: Double?) -> String { value.map { Units.fixed($0, 2) + "x" } ?? "-" }
        for r in ratios { table.add([r.step.rawValue, r.tool, r.peer, format(r.throughput), format(r.repositorySize), format(r.peakRSS)]) }
        return table
    }

    /// What each incremental backup added to its repository.
    func growthTable() -> Table {
        var table = Table(["tool"] + [Step.backupImageV2, .backupTreeV1, .backupTreeV2].map { "growth by \($0.rawValue), MiB" }, leftAligned: [0])
        var order: [String] = []
        for g in growth where !order.contains(g.tool) { order.append(g.tool) }
        for name in order {
            let cells = [Step.backupImageV2, .backupTreeV1, .backupTreeV2].map { step in
                growth.first { $0.tool == name && $0.step == step }.map { Units.fixed(Units.mib($0.bytes), 2) } ?? "-"
            }
            table.add([name] + cells)
        }
        return table
    }

    var header: [String] {
        let versions = tools.map { "\($0.name): \($0.version ?? $0.note ?? "missing")" }.joined(separator: "; ")
        return [
            "machine: \(machine.summary)",
            "tools: \(versions)",
            "dataset: \(dataset.directory): image-v1 \(Units.fixed(Units.mib(dataset.imageV1Bytes), 0)) MiB, image-v2 "
                + "\(Units.fixed(Units.mib(dataset.imageV2Bytes), 0)) MiB, tree-v1 \(dataset.treeV1Files) files / "
                + "\(Units.fixed(Units.mib(dataset.treeV1Bytes), 0)) MiB, tree-v2 \(dataset.treeV2Files) files / "
                + "\(Units.fixed(Units.mib(dataset.treeV2Bytes), 0)) MiB; rounds: \(rounds)" + (rounds > 1 ? " (median wall shown)" : ""),
        ]
    }

    func text() -> String {
        (header + ["", mainTable().text(), "", ratioTable().text(), "", growthTable().text(), ""] + notes.map { "* " + $0 })
            .joined(separator: "\n")
    }

    func markdown() -> String {
        (header.map { $0 + "  " } + ["", mainTable().markdown(), "", "Tandem relative to each peer:", "", ratioTable().markdown(), "",
                                     "Repository growth:", "", growthTable().markdown(), ""] + notes.map { "- " + $0 })
            .joined(separator: "\n") + "\n"
    }
}

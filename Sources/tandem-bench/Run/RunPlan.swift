import Foundation

/// The steps of an end-to-end run, in order; each runs for every tool before the next begins.
enum Step: String, CaseIterable, Codable, Sendable {
    case initialize = "init"
    case backupImageV1 = "backup image-v1"
    case backupImageV2 = "backup image-v2"
    case restoreImageV1 = "restore image-v1"
    /// The restore above plus an fsync of the restored image: the time until it is on disk.
    /// Tandem's restore fsyncs before it returns; restic's and Borg's leave the image in the
    /// page cache, so their plain restore time leaves the disk writes out. Recorded by the
    /// restore step, not run on its own.
    case restoreImageV1OnDisk = "restore image-v1, until on disk"
    case check = "check (read all data)"
    case backupTreeV1 = "backup tree-v1"
    case backupTreeV2 = "backup tree-v2"

    var isBackup: Bool { [.backupImageV1, .backupImageV2, .backupTreeV1, .backupTreeV2].contains(self) }
}

/// One tool's cost for one step in one round.
struct Measurement: Encodable {
    let round: Int
    let step: Step
    let tool: String
    /// The step's logical data size, the same for every tool: the image or tree backed up, the
    /// image restored, both images for check; 0 for init.
    let bytes: Int64
    let wallSeconds: Double
    let cpuSeconds: Double
    let peakRSSBytes: Int64
    let megabytesPerSecond: Double?
    /// Apparent size of the repository after the step (sum of its files' sizes).
    let repositoryBytes: Int64
    let details: [String: String]
}

/// Runs every step for every tool, interleaved per step so that machine noise hits all tools
/// alike; the tool order rotates each round. Each round starts from empty repositories.
final class RunPlan {
    let dataset: Dataset
    let work: String
    let makeTools: (Int) throws -> [any BackupTool]
    private(set) var measurements: [Measurement] = []
    private let swap: TreeSwap
    private var imageV1Digest = ""

    /// Called after each round (e.g. to delete its repositories).
    let finishRound: (Int) throws -> Void

    init(dataset: Dataset, work: String, makeTools: @escaping (Int) throws -> [any BackupTool],
         finishRound: @escaping (Int) throws -> Void) {
        self.dataset = dataset
        self.work = work
        self.makeTools = makeTools
        self.finishRound = finishRound
        swap = TreeSwap(work: work)
    }

    func run(rounds: Int) throws {
        try swap.recover()
        Log.info("hashing \(dataset.imageV1) for the restore check")
        imageV1Digest = try Files.sha256(dataset.imageV1)
        for round in 1 ... rounds {
            var tools = try makeTools(round)
            let shift = (round - 1) % tools.count
            tools = Array(tools[shift...] + tools[..<shift])
            Log.info("round \(round)/\(rounds): \(tools.map(\.name).joined(separator: ", "))")
            for step in Step.allCases { try run(step, tools: tools, round: round) }
            try finishRound(round)
        }
    }

    private func run(_ step: Step, tools: [any BackupTool], round: Int) throws {
        switch step {
        case .initialize:
            for tool in tools { try record(step, tool, round, bytes: 0, tool.initialize()) }
        case .backupImageV1, .backupImageV2:
            let (path, bytes) = step == .backupImageV1 ? (dataset.imageV1, dataset.imageV1Bytes) : (dataset.imageV2, dataset.imageV2Bytes)
            for tool in tools {
                Files.warm(path)
                try record(step, tool, round, bytes: bytes, tool.backup(path, label: step == .backupImageV1 ? "image-v1" : "image-v2"))
            }
        case .restoreImageV1:
            for tool in tools {
                Files.warm(tool.repository)
                let target = tool.place.root + "/restore"
                try Files.remove(target)
                try Files.makeDirectory(target)
                var (cost, file) = try tool.restore(label: "image-v1", source: dataset.imageV1, into: target)
                let syncSeconds = try Files.fsync(file)
                let digest = Files.exists(file) ? try Files.sha256(file) : "missing"
                cost.details["restored_sha256_matches"] = "\(digest == imageV1Digest)"
                if digest != imageV1Digest {
                    let message = "\(tool.name) restore of image-v1 differs from the source (\(file): \(digest.prefix(16)) vs \(imageV1Digest.prefix(16)))"
                    if tool is TandemTool { throw BenchError("RESTORE MISMATCH: " + message) }
                    Log.info("warning: " + message)
                }
                try Files.remove(target)
                try record(step, tool, round, bytes: dataset.imageV1Bytes, cost)
                var onDisk = cost
                onDisk.wallSeconds += syncSeconds
                onDisk.details["fsync_seconds"] = String(format: "%.3f", syncSeconds)
                try record(.restoreImageV1OnDisk, tool, round, bytes: dataset.imageV1Bytes, onDisk)
            }
        case .restoreImageV1OnDisk:
            break
        case .check:
            for tool in tools {
                Files.warm(tool.repository)
                try record(step, tool, round, bytes: dataset.imageV1Bytes + dataset.imageV2Bytes, tool.check())
            }
        case .backupTreeV1, .backupTreeV2:
            let (source, bytes) = step == .backupTreeV1 ? (dataset.treeV1, dataset.treeV1Bytes) : (dataset.treeV2, dataset.treeV2Bytes)
            try swap.bring(source)
            defer { try? swap.recover() }
            for tool in tools {
                Files.warm(swap.path)
                try record(step, tool, round, bytes: bytes, tool.backup(swap.path, label: step == .backupTreeV1 ? "tree-v1" : "tree-v2"))
            }
        }
    }

    private func record(_ step: Step, _ tool: any BackupTool, _ round: Int, bytes: Int64, _ cost: StepCost) throws {
        let measurement = Measurement(
            round: round, step: step, tool: tool.name, bytes: bytes, wallSeconds: cost.wallSeconds, cpuSeconds: cost.cpuSeconds,
            peakRSSBytes: cost.peakRSSBytes, megabytesPerSecond: bytes > 0 ? Units.megabytesPerSecond(bytes, cost.wallSeconds) : nil,
            repositoryBytes: Files.apparentSize(tool.repository), details: cost.details)
        measurements.append(measurement)
        Log.info("  " + Units.pad(step.rawValue, 32) + Units.pad(tool.name, 8)
                 + String(format: "%8.2f s wall %8.2f s cpu %7.1f MiB rss %9.1f MiB repo", cost.wallSeconds, cost.cpuSeconds,
                          Units.mib(cost.peakRSSBytes), Units.mib(measurement.repositoryBytes)))
    }
}

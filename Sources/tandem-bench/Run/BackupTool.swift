import Foundation

/// The cost of one step for one tool: the sum of its child processes' wall and CPU seconds and
/// the largest peak RSS among them.
struct StepCost {
    var wallSeconds = 0.0
    var cpuSeconds = 0.0
    var peakRSSBytes: Int64 = 0
    /// Tool-specific facts reported by the tool itself (snapshot ID, bytes added, ...).
    var details: [String: String] = [:]

    mutating func add(_ child: ChildResult) {
        wallSeconds += child.wallSeconds
        cpuSeconds += child.cpuSeconds
        peakRSSBytes = max(peakRSSBytes, child.peakRSSBytes)
    }

    init() {}
    init(_ child: ChildResult) { add(child) }
}

/// Where a tool keeps its repository, caches and child logs during one round.
struct ToolPlace {
    /// The tool's directory for this round; the repository is `root/repo`.
    let root: String
    /// Where child stdout/stderr files go.
    let scratch: String
    let passphrase: String

    var repository: String { root + "/repo" }
}

/// A backup tool driven through its command line, one child process per action.
protocol BackupTool: AnyObject {
    var name: String { get }
    var place: ToolPlace { get }

    /// Creates the (encrypted) repository.
    func initialize() throws -> StepCost
    /// Backs up `path` (a file or a directory) as the snapshot known as `label`.
    func backup(_ path: String, label: String) throws -> StepCost
    /// Restores the file `source` of the snapshot `label` under the empty directory `target`;
    /// returns the cost and the path of the restored file.
    func restore(label: String, source: String, into target: String) throws -> (StepCost, String)
    /// Verifies the repository, reading every data byte.
    func check() throws -> StepCost
}

extension BackupTool {
    /// The repository directory.
    var repository: String { place.repository }
}

/// What is on this machine: which tools can run, and their versions.
struct ToolInventory: Encodable {
    let name: String
    let path: String?
    let version: String?
    let note: String?
}

import Foundation

/// restic, with RESTIC_PASSWORD set and its cache inside the round's directory. Uses repository
/// format 2 with `--compression auto` when this restic supports it (0.14+).
final class ResticTool: BackupTool {
    let name = "restic"
    let place: ToolPlace
    let binary: String
    let compression: Bool
    private var snapshots: [String: String] = [:]
    private var environment: [String: String] {
        ["RESTIC_PASSWORD": place.passphrase, "RESTIC_CACHE_DIR": place.root + "/cache"]
    }

    init(binary: String, place: ToolPlace, compression: Bool) {
        self.binary = binary
        self.place = place
        self.compression = compression
    }

    /// Whether `restic init` knows `--repository-version` (and so compression).
    static func supportsCompression(binary: String, scratch: String) -> Bool {
        guard let help = try? ChildProcess.run([binary, "init", "--help"], scratch: scratch) else { return false }
        return String(decoding: help.stdout, as: UTF8.self).contains("--repository-version")
    }

    private func run(_ arguments: [String], directory: String? = nil) throws -> ChildResult {
        try ChildProcess.checked([binary, "-r", repository] + arguments, environment: environment,
                                 directory: directory, scratch: place.scratch)
    }

    func initialize() throws -> StepCost {
        StepCost(try run(["init"] + (compression ? ["--repository-version", "2"] : [])))
    }

    func backup(_ path: String, label: String) throws -> StepCost {
        let child = try run(["backup", "--json"] + (compression ? ["--compression", "auto"] : []) + [path])
        var cost = StepCost(child)
        let lines = String(decoding: child.stdout, as: UTF8.self).split(separator: "\n")
        for line in lines.reversed() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["message_type"] as? String == "summary" else { continue }
            for key in ["snapshot_id", "files_new", "files_changed", "files_unmodified", "data_added", "total_bytes_processed"] {
                if let value = object[key] { cost.details[key] = "\(value)" }
            }
            break
        }
        guard let id = cost.details["snapshot_id"] else { throw BenchError("restic backup printed no summary with snapshot_id") }
        snapshots[label] = id
        return cost
    }

    func restore(label: String, source: String, into target: String) throws -> (StepCost, String) {
        guard let id = snapshots[label] else { throw BenchError("restic: no snapshot for \(label)") }
        let child = try run(["restore", id, "--target", target])
        return (StepCost(child), target + source)
    }

    func check() throws -> StepCost {
        StepCost(try run(["check", "--read-data"]))
    }
}

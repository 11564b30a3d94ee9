import Foundation

/// Borg 1.2 with `repokey` encryption and lz4 compression, its home (keys, cache, security
/// dir) inside the round's directory. Archives are named after the step labels.
final class BorgTool: BackupTool {
    let name = "borg"
    let place: ToolPlace
    let binary: String
    private var environment: [String: String] {
        ["BORG_PASSPHRASE": place.passphrase, "BORG_BASE_DIR": place.root + "/home",
         "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes", "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes",
         "BORG_DISPLAY_PASSPHRASE": "no"]
    }

    init(binary: String, place: ToolPlace) {
        self.binary = binary
        self.place = place
    }

    private func run(_ arguments: [String], directory: String? = nil) throws -> ChildResult {
        try ChildProcess.checked([binary] + arguments, environment: environment, directory: directory, scratch: place.scratch)
    }

    func initialize() throws -> StepCost {
        try Files.makeDirectory(place.root + "/home")
        return StepCost(try run(["init", "-e", "repokey", repository]))
    }

    func backup(_ path: String, label: String) throws -> StepCost {
        let child = try run(["create", "--json", "--compression", "lz4", "\(repository)::\(label)", path])
        var cost = StepCost(child)
        if let object = try? JSONSerialization.jsonObject(with: child.stdout) as? [String: Any],
           let archive = object["archive"] as? [String: Any], let stats = archive["stats"] as? [String: Any] {
            for key in ["deduplicated_size", "compressed_size", "original_size", "nfiles"] {
                if let value = stats[key] { cost.details[key] = "\(value)" }
            }
        }
        return cost
    }

    func restore(label: String, source: String, into target: String) throws -> (StepCost, String) {
        let child = try run(["extract", "\(repository)::\(label)"], directory: target)
        return (StepCost(child), target + source)
    }

    func check() throws -> StepCost {
        StepCost(try run(["check", "--verify-data", repository]))
    }
}

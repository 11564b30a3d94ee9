import Foundation

/// Tandem, driven through the `tandemctl` binary built next to this benchmark, with
/// TANDEM_PASSPHRASE set and `--json` output parsed. Tenant `bench`, default settings
/// (FastCDC 16K/64K/256K, zstd:3 in 4 MiB groups) and the suite asked for: `tandem` is the
/// default suite (aes256gcm), `tandem-sm4` the GM suite, and so on.
final class TandemTool: BackupTool {
    let name: String
    let suite: String
    let place: ToolPlace
    let binary: String
    private var snapshots: [String: String] = [:]
    private var environment: [String: String] { ["TANDEM_PASSPHRASE": place.passphrase] }

    init(binary: String, place: ToolPlace, suite: String = "aes256gcm") {
        self.binary = binary
        self.place = place
        self.suite = suite
        name = Self.name(suite: suite)
    }

    /// The tool's name in the tables for `suite`.
    static func name(suite: String) -> String { suite == "aes256gcm" ? "tandem" : "tandem-\(suite)" }

    /// `tandemctl` in the same folder as this executable, or `override`.
    static func locate(override: String?) throws -> String {
        if let override {
            guard access(override, X_OK) == 0 else { throw BenchError("--tandemctl \(override) is not executable") }
            return override
        }
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
        let candidate = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("tandemctl").path
        guard access(candidate, X_OK) == 0 else {
            throw BenchError("tandemctl not found next to tandem-bench (\(candidate)); build it with the same --scratch-path, or pass --tandemctl")
        }
        return candidate
    }

    private func run(_ arguments: [String]) throws -> ChildResult {
        try ChildProcess.checked([binary] + arguments, environment: environment, scratch: place.scratch)
    }

    private func json(_ child: ChildResult) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: child.stdout) as? [String: Any] else {
            throw BenchError("tandemctl \(child.command.dropFirst().first ?? ""): --json output is not an object")
        }
        return object
    }

    func initialize() throws -> StepCost {
        var cost = StepCost(try run(["init", "--repo", repository, "--json"]))
        cost.add(try run(["tenant", "create", "--repo", repository, "--tenant", "bench", "--suite", suite, "--json"]))
        return cost
    }

    func backup(_ path: String, label: String) throws -> StepCost {
        let child = try run(["backup", "--repo", repository, "--tenant", "bench", path, "--json"])
        let output = try json(child)
        guard let id = output["snapshot_id"] as? String else { throw BenchError("tandemctl backup printed no snapshot_id") }
        snapshots[label] = id
        var cost = StepCost(child)
        for key in ["snapshot_id", "bytes_read", "bytes_new", "bytes_stored", "chunks", "chunks_new", "files", "files_unchanged", "seconds"] {
            if let value = output[key] { cost.details[key] = "\(value)" }
        }
        if let warnings = output["warnings"] as? [String], !warnings.isEmpty { cost.details["warnings"] = "\(warnings.count)" }
        return cost
    }

    func restore(label: String, source: String, into target: String) throws -> (StepCost, String) {
        guard let id = snapshots[label] else { throw BenchError("tandem: no snapshot for \(label)") }
        let file = target + "/" + URL(fileURLWithPath: source).lastPathComponent
        let child = try run(["restore", "--repo", repository, "--tenant", "bench", id, "--target", file, "--json"])
        var cost = StepCost(child)
        if let output = try? json(child) {
            for key in ["bytes_restored", "seconds"] { if let value = output[key] { cost.details[key] = "\(value)" } }
        }
        return (cost, file)
    }

    func check() throws -> StepCost {
        let child = try run(["check", "--repo", repository, "--tenant", "bench", "--read-data", "--json"])
        let output = try json(child)
        guard output["ok"] as? Bool == true else { throw BenchError("tandemctl check --read-data reported damage: \(String(decoding: child.stdout, as: UTF8.self))") }
        var cost = StepCost(child)
        if let tenants = output["tenants"] as? [[String: Any]], let first = tenants.first {
            for key in ["packs", "blobs", "bytes_read"] { if let value = first[key] { cost.details[key] = "\(value)" } }
        }
        return cost
    }
}

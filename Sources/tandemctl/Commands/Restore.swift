import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl restore [--repo DIR] --tenant T SNAPSHOT --target PATH`.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a snapshot to a file, device or directory, or a stream snapshot to stdout ('--target -').")

    @OptionGroup var location: RepositoryChoice
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "Snapshot ID, unique ID prefix, or 'latest'.") var snapshot: String
    @Option(help: "Where to restore: a path, or '-' for stdout.") var target: String
    @Option(help: "Restore only this path of a tree snapshot.") var path: String?
    @Flag(help: "Replace an existing regular file (stream snapshots).") var overwrite = false
    @Option(help: "Chunks fetched and verified in parallel (default: two per core).") var workers: Int?
    @Flag(help: ArgumentHelp("Re-hash every chunk to its ID, as check --read-data does.",
                             discussion: "By default the AEAD, which binds each blob to its ID, authenticates chunks stored on their own, and chunks in group frames are re-hashed."))
    var verifyIds = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        if location.offline == nil && target == "-" {
            throw ValidationError("--target - needs --repo DIR: the daemon restores to a path")
        }
        if json && target == "-" { throw ValidationError("--json cannot be used with --target - (stdout carries the data)") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must lie within 1...256") }
    }

    func run() async throws {
        try await Failure.guarded {
            guard let repository = location.offline else {
                let absolute = target.hasPrefix("/") ? target : FileManager.default.currentDirectoryPath + "/" + target
                let request = RestoreRequest(snapshot: snapshot, target: (absolute as NSString).standardizingPath, path: path, overwrite: overwrite,
                                             verifyIds: verifyIds ? true : nil)
                let result = try await location.daemon.client().post("/v1/tenants/\(tenant.tenant)/restore", body: request,
                                                                     as: DaemonRestoreResult.self)
                for warning in result.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
                if json { return try JSONOutput.print(result) }
                print("restored snapshot \(result.snapshotId.prefix(12)): \(Human.bytes(result.bytesRestored)) in "
                      + String(format: "%.2f s", result.seconds) + " to \(request.target) (by tandemd)")
                return
            }
            let repo = try await tenant.open(repository)
            var options = RestoreOptions()
            options.overwrite = overwrite
            options.only = path
            options.verifyIDs = verifyIds
            if let workers { options.workers = workers }
            let destination: RestoreTarget = target == "-" ? .standardOutput : .path(target)
            let configured = options
            let result = try await ProgressMeter.run(label: "restore", total: nil) { meter in
                var options = configured
                options.progress = { meter.add($0) }
                return try await repo.restore(snapshot, to: destination, options: options)
            }
            for warning in result.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            if json {
                try JSONOutput.print(result)
            } else if target != "-" {
                print("restored snapshot \(result.snapshotID.prefix(12)): \(Human.bytes(result.bytesRestored)) in "
                      + String(format: "%.2f s", result.seconds) + " (\(Human.rate(result.bytesRestored, result.seconds))) to \(target)")
            }
        }
    }
}

/// The daemon's restore answer (``RestoreResult`` as JSON, keys snake_case).
struct DaemonRestoreResult: Codable {
    let snapshotId: String
    let bytesRestored: Int64
    let files: Int
    let seconds: Double
    let warnings: [String]
}

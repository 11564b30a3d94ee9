import ArgumentParser
import Foundation
import TandemStore

/// `tandemctl restore --repo DIR --tenant T SNAPSHOT --target PATH`.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore a snapshot to a file, device or directory, or a stream snapshot to stdout ('--target -').")

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "Snapshot ID, unique ID prefix, or 'latest'.") var snapshot: String
    @Option(help: "Where to restore: a path, or '-' for stdout.") var target: String
    @Option(help: "Restore only this path of a tree snapshot.") var path: String?
    @Flag(help: "Replace an existing regular file (stream snapshots).") var overwrite = false
    @Option(help: "Chunks fetched and verified in parallel (default: two per core).") var workers: Int?
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        if json && target == "-" { throw ValidationError("--json cannot be used with --target - (stdout carries the data)") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must lie within 1...256") }
    }

    func run() async throws {
        try await Failure.guarded {
            let repo = try await tenant.open(repository)
            var options = RestoreOptions()
            options.overwrite = overwrite
            options.only = path
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

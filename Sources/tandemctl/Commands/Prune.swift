import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl prune [--repo DIR] --tenant T`. Through the daemon, it first applies the
/// tenant's retention for this site (forget), then prunes.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete data no snapshot references; rewrite mostly-dead packs.")

    @OptionGroup var location: RepositoryChoice
    @OptionGroup var tenant: TenantOptions
    @Option(name: .customLong("repack-threshold"), help: "Rewrite packs with at least this fraction of dead bytes (0-1).")
    var repackThreshold: Double = 0.25
    @Flag(name: .customLong("dry-run"), help: "Report what would happen without changing anything.") var dryRun = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        guard (0...1).contains(repackThreshold) else { throw ValidationError("--repack-threshold must lie within 0...1") }
    }

    func run() async throws {
        try await Failure.guarded {
            guard let repository = location.offline else {
                if dryRun { throw ValidationError("--dry-run needs --repo DIR (use 'policy simulate' to preview retention)") }
                let report = try await location.daemon.client().post("/v1/tenants/\(tenant.tenant)/prune", body: BackupRequest(),
                                                                     as: PruneReport.self)
                if json { return try JSONOutput.print(report) }
                print("deleted \(report.packsDeleted) and rewrote \(report.packsRepacked) of \(report.packsBefore) packs; "
                      + "\(Human.bytes(report.bytesBefore)) -> \(Human.bytes(report.bytesAfter))")
                return
            }
            let repo = try await tenant.open(repository)
            var options = PruneOptions()
            options.repackThreshold = repackThreshold
            options.dryRun = dryRun
            let report = try await repo.prune(options: options)
            if json {
                try JSONOutput.print(report)
            } else {
                print("\(dryRun ? "would delete" : "deleted") \(report.packsDeleted) and \(dryRun ? "would rewrite" : "rewrote") \(report.packsRepacked) of \(report.packsBefore) packs; "
                      + "\(report.blobsRemoved) unreferenced blob(s); \(Human.bytes(report.bytesBefore)) -> \(Human.bytes(report.bytesAfter))"
                      + (report.incompleteWritesRemoved > 0 ? "; removed \(report.incompleteWritesRemoved) leftover(s) of interrupted writes" : ""))
            }
        }
    }
}

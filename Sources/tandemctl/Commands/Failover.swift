import ArgumentParser
import Foundation
import TandemCore

/// `tandemctl failover --tenant T|--all [--to SITE]` (planned switchover, at the active site),
/// `tandemctl failover --tenant T --force --reason TEXT` (at the twin, when the active site and
/// the witness are both gone), and `tandemctl failback --tenant T` (back to the home site).
struct Failover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move tenants to the twin: a planned switchover, or a forced promotion when the active site and the witness are gone.",
        discussion: """
            Without --force, run it at the tenant's active site: writes stop, running jobs end, the twin \
            receives everything it lacks, the lease is given back and the twin takes the tenant at the \
            next epoch. Nothing acknowledged is lost; on failure the tenant stays here. With --force, \
            run it at the twin: it takes the tenant without a majority (only once the active site's \
            heartbeats have stopped and its lease has run out); both histories are kept and the \
            divergence is reported. Audited. Exits 11 when refused.
            """)

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Tenant name.") var tenant: String?
    @Flag(help: "Every tenant active at this site.") var all = false
    @Option(help: "The site to move to (default: this site's twin).") var to: String?
    @Flag(help: "Promote this site (the twin) without the witness.") var force = false
    @Option(help: "Why (required with --force; recorded in the audit log).") var reason: String?
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard (tenant == nil) != !all else { throw ValidationError("name one --tenant, or --all") }
        if force {
            guard tenant != nil else { throw ValidationError("--force moves one tenant at a time: name it with --tenant") }
            guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--force needs --reason") }
        }
    }

    func run() async throws {
        try await Failure.guarded {
            let client = daemon.client()
            var tenants = tenant.map { [$0] } ?? []
            if all {
                let status = try await client.get("/v1/status", as: StatusResponse.self)
                tenants = status.tenants.filter { $0.activeSite == status.site }.map(\.name)
            }
            var reports: [FailoverReport] = []
            for name in tenants {
                let report = try await client.post("/v1/tenants/\(name)/failover",
                                                   body: FailoverRequest(to: to, force: force, reason: reason), as: FailoverReport.self)
                reports.append(report)
                if !json { Failover.describe(report) }
            }
            // One object, as every command's --json prints: the tenants' reports in a list.
            if json { try JSONOutput.print(FailoverReports(failovers: reports)) }
        }
    }

    static func describe(_ report: FailoverReport) {
        print("\(report.tenant): \(report.kind) from \(report.from) to \(report.to) at epoch \(report.epoch) in \(String(format: "%.2f", report.seconds)) s"
              + (report.kind == "switchover" ? " (\(report.snapshotsSynced) snapshot(s) synced first)" : ""))
        if let divergence = report.divergence { print("  divergence: \(divergence)") }
    }
}

/// `failover --json`: one report per tenant moved.
struct FailoverReports: Encodable {
    let failovers: [FailoverReport]
}

/// `tandemctl failback --tenant T`: a planned switchover back to the tenant's `home_site`,
/// run at the site where it is active now.
struct Failback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move a tenant back to its home site (a planned switchover, run at the site where it is active now).")

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Tenant name.") var tenant: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await Failure.guarded {
            let report = try await daemon.client().post("/v1/tenants/\(tenant)/failover", body: FailoverRequest(to: nil, back: true),
                                                        as: FailoverReport.self)
            if json { try JSONOutput.print(report) } else { Failover.describe(report) }
        }
    }
}

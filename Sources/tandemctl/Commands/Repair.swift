import ArgumentParser
import Foundation
import TandemCore

/// `tandemctl repair --tenant T`: asks tandemd to check every byte of the tenant and put back
/// damaged or missing packs from the remote site.
struct Repair: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a tenant's data and fetch damaged or missing packs from the remote site (through tandemd).",
        discussion: "Each fetched pack is verified by its SHA-256 name. A damaged pack no peer can give is moved aside, so no new backup builds on it. Exits 3 if problems remain.")

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Tenant name.") var tenant: String
    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await Failure.guarded {
            let report = try await daemon.client().post("/v1/tenants/\(tenant)/repair", body: BackupRequest(), as: RepairReport.self)
            if json {
                try JSONOutput.print(report)
            } else {
                print("tenant \(tenant): \(report.problemsBefore.count) problem(s) found, \(report.fetched.count) pack(s) fetched from the remote site, \(report.quarantined.count) moved aside")
                for problem in report.problemsBefore { print("  found: \(problem)") }
                for problem in report.problemsAfter { print("  left:  \(problem)") }
                print(report.problemsAfter.isEmpty ? "the tenant checks clean" : "\(report.problemsAfter.count) problem(s) remain")
            }
            if !report.problemsAfter.isEmpty { throw ExitCode(3) }
        }
    }
}

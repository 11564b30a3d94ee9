import ArgumentParser
import Foundation
import TandemCore

/// `tandemctl drill --tenant T --site twin|remote [--instant]`: restores and fully verifies the
/// tenant's newest snapshot held at that site in a scratch area, and reports the measured RPO
/// and RTO (with `--instant`, also the time to the first read of the copy served over NBD).
struct Drill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch, verify and restore a tenant's newest snapshot at a site in a scratch area; report RPO and RTO.",
        discussion: "Production is not touched: the scratch area is under the daemon's state directory and removed afterwards. Exits 3 if the copy has problems, 13 if the RPO objective is missed or the twin lacks the newest snapshot committed here.")

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Tenant name.") var tenant: String
    @Option(help: "The site to drill: twin or remote.") var site = "remote"
    @Flag(help: "Also serve the copy (an image snapshot) over NBD and time the first verified read: the instant RTO.") var instant = false
    @Flag(help: "Print JSON.") var json = false

    func validate() throws {
        guard ["twin", "remote"].contains(site) else { throw ValidationError("--site must be twin or remote, not '\(site)'") }
    }

    func run() async throws {
        try await Failure.guarded {
            let report = try await daemon.client().post("/v1/tenants/\(tenant)/drill", body: DrillRequest(site: site, instant: instant ? true : nil), as: DrillReport.self)
            if json {
                try JSONOutput.print(report)
            } else {
                print("drill of \(tenant) at \(report.site): snapshot \(report.snapshotId.prefix(12)) of \(ControlJSON.formatTime(report.snapshotTime))")
                print("  RPO \(Int(report.rpoSeconds)) s" + (report.rpoObjectiveSeconds.map { " (objective \(Int($0)) s: \(report.rpoMet == true ? "met" : "MISSED"))" } ?? "")
                      + (report.twinCurrent.map { $0 ? " (the twin holds the newest snapshot committed here)" : " (BEHIND: the twin lacks the newest snapshot committed here)" } ?? ""))
                print("  RTO \(String(format: "%.2f", report.rtoSeconds)) s to a verified restore of \(Human.bytes(report.bytesRestored)) in \(report.files) file(s)"
                      + (report.fetchSeconds.map { " (\(String(format: "%.2f", $0)) s of it fetching the copy)" } ?? ""))
                if let instant = report.instantRtoSeconds {
                    print("  instant RTO \(String(format: "%.3f", instant)) s from the copy at hand to the first verified read served over NBD")
                }
                print(report.problems.isEmpty ? "  every byte verified" : "  \(report.problems.count) problem(s):")
                for problem in report.problems { print("    \(problem)") }
            }
            if !report.problems.isEmpty { throw ExitCode(3) }
            if report.rpoMet == false || report.twinCurrent == false { throw ExitCode(13) }
        }
    }
}

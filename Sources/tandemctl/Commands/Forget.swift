import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl forget --repo DIR --tenant T --keep-…`.
struct Forget: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove snapshots that the retention rules do not keep (each source judged on its own).",
        discussion: "Only manifests are removed; run 'tandemctl prune' to reclaim the data they alone referenced.")

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var tenant: TenantOptions
    @Option(name: .customLong("keep-last")) var keepLast: Int?
    @Option(name: .customLong("keep-hourly")) var keepHourly: Int?
    @Option(name: .customLong("keep-daily")) var keepDaily: Int?
    @Option(name: .customLong("keep-weekly")) var keepWeekly: Int?
    @Option(name: .customLong("keep-monthly")) var keepMonthly: Int?
    @Option(name: .customLong("keep-yearly")) var keepYearly: Int?
    @Option(name: .customLong("time-zone"), help: "IANA time zone the hourly/daily/... buckets are counted in.") var timeZone: String?
    @Flag(name: .customLong("dry-run"), help: "Show the decisions without removing anything.") var dryRun = false
    @Flag(help: "Print the result as JSON.") var json = false

    var policy: RetentionPolicy {
        RetentionPolicy(keepLast: keepLast, keepHourly: keepHourly, keepDaily: keepDaily, keepWeekly: keepWeekly,
                        keepMonthly: keepMonthly, keepYearly: keepYearly)
    }

    func validate() throws {
        do { try policy.validate() } catch { throw ValidationError(error.description) }
        if let timeZone, TimeZone(identifier: timeZone) == nil { throw ValidationError("--time-zone '\(timeZone)' is not an IANA time zone") }
    }

    func run() async throws {
        try await Failure.guarded {
            let repo = try await tenant.open(repository)
            let zone = timeZone.flatMap(TimeZone.init(identifier:)) ?? .current
            let report = try await repo.forget(policy: policy, dryRun: dryRun, now: Date(), timeZone: zone)
            if json {
                try JSONOutput.print(report)
                return
            }
            let formatter = ISO8601DateFormatter()
            for d in report.decisions {
                print("\(d.keep ? "keep  " : "remove") \(d.id.prefix(12))  \(formatter.string(from: d.time))  \(d.source)"
                      + (d.reasons.isEmpty ? "" : "  (\(d.reasons.joined(separator: ", ")))"))
            }
            print(dryRun ? "dry run: \(report.decisions.filter { !$0.keep }.count) snapshot(s) would be removed"
                         : "removed \(report.removed.count) snapshot(s)")
        }
    }
}

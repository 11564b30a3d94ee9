import ArgumentParser
import Foundation
import TandemCore
import TandemPolicy

/// `tandemctl policy show|validate|simulate`.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Show, validate and simulate tenant policies.",
        subcommands: [Show.self, Validate.self, Simulate.self])

    /// `policy validate [PATH]`: the daemon's own validator, run locally.
    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a site config (with every tenant policy it loads) or one policy file; exits 2 if invalid.",
            discussion: "PATH defaults to $TANDEM_CONFIG or /etc/tandem/tandem.yaml. Errors name file:line:column and the field.")
        @Argument(help: "A site config (tandem.yaml) or a tenant policy file.") var path: String?
        @Flag(help: "Print the result as JSON.") var json = false

        struct Output: Encodable {
            let valid: Bool
            let file: String
            let tenants: [String]
            let errors: [String]
        }

        func run() async throws {
            let file = path ?? ProcessInfo.processInfo.environment["TANDEM_CONFIG"] ?? "/etc/tandem/tandem.yaml"
            do {
                let tenants: [String]
                switch try PolicySet.validateFile(file) {
                case .site:
                    tenants = try PolicySet.load(configPath: file).tenants.map(\.tenant)
                case .tenant(let policy):
                    tenants = [policy.tenant]
                }
                if json { return try JSONOutput.print(Output(valid: true, file: file, tenants: tenants, errors: [])) }
                print("\(file): valid (\(tenants.count) tenant(s)\(tenants.isEmpty ? "" : ": " + tenants.joined(separator: ", ")))")
            } catch let error as ConfigErrors {
                if json {
                    try JSONOutput.print(Output(valid: false, file: file, tenants: [], errors: error.errors.map(\.description)))
                } else {
                    for problem in error.errors { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
                }
                throw ExitCode(2)
            }
        }
    }

    /// `policy show --tenant T`: the policy file the daemon runs, and its next run.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a tenant's policy as the daemon loaded it.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Tenant name.") var tenant: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await Failure.guarded {
                let document = try await daemon.client().get("/v1/tenants/\(tenant)/policy", as: PolicyDocument.self)
                if json { return try JSONOutput.print(document) }
                print("# \(document.file)" + (document.nextRun.map { " (next run \(ControlJSON.formatTime($0)))" } ?? ""))
                print(document.text, terminator: document.text.hasSuffix("\n") ? "" : "\n")
            }
        }
    }

    /// `policy simulate --tenant T --days N`: the planned runs and what retention keeps.
    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the runs a tenant's schedules would start and which snapshots retention would keep, with reasons.",
            discussion: "Asks tandemd (which adds the tenant's existing snapshots), or with --config PATH works from the files alone.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "How many days ahead (1-3660).") var days = 7
        @Option(help: "Simulate from this site config instead of asking the daemon.") var config: String?
        @Option(help: "With --config: the site whose retention applies (default: the config's own).") var site: String?
        @Flag(help: "Print JSON.") var json = false

        func validate() throws {
            guard (1...3660).contains(days) else { throw ValidationError("--days must be 1-3660") }
        }

        func run() async throws {
            try await Failure.guarded {
                let report: SimulationReport
                if let config {
                    let set: PolicySet
                    do { set = try PolicySet.load(configPath: config) } catch let error as ConfigErrors {
                        for problem in error.errors { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
                        throw ExitCode(2)
                    }
                    guard let policy = set.tenant(tenant) else {
                        throw ValidationError("no tenant '\(tenant)' in \(config) (tenants: \(set.tenants.map(\.tenant).joined(separator: ", ")))")
                    }
                    let now = Date()
                    report = PolicySimulation.run(policy: policy, site: site ?? set.site.siteName, from: now,
                                                  until: now.addingTimeInterval(Double(days) * 86400))
                } else {
                    report = try await daemon.client().get("/v1/tenants/\(tenant)/simulate?days=\(days)", as: SimulationReport.self)
                }
                if json {
                    FileHandle.standardOutput.write(try ControlJSON.encoder(pretty: true).encode(report) + Data("\n".utf8))
                    return
                }
                print("tenant \(report.tenant) at site \(report.site), \(ControlJSON.formatTime(report.from)) to \(ControlJSON.formatTime(report.until))")
                print("\(report.runs.count) planned run(s):")
                for run in report.runs.prefix(200) { print("  \(ControlJSON.formatTime(run.time))  \(run.source)  (\(run.schedule))") }
                if report.runs.count > 200 { print("  ... \(report.runs.count - 200) more (use --json)") }
                let kept = report.retention.filter(\.keep)
                print("retention keeps \(kept.count) of \(report.retention.count) snapshot(s):")
                for verdict in report.retention where verdict.keep || verdict.existing {
                    print("  \(verdict.keep ? "keep  " : "remove") \(ControlJSON.formatTime(verdict.snapshotTime))  \(verdict.source)  \(verdict.reasons.joined(separator: ", "))")
                }
            }
        }
    }
}

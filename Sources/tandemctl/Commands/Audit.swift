import ArgumentParser
import Foundation
import TandemCore

/// `tandemctl audit [--limit N]` and `tandemctl audit verify` (operators only).
struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read the daemon's hash-chained audit log (operators only).",
        subcommands: [List.self, Verify.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Print the newest audit records.")
        @OptionGroup var daemon: DaemonOptions
        @Option(help: "How many of the newest records.") var limit = 50
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await Failure.guarded {
                let records = try await daemon.client().get("/v1/audit?limit=\(limit)", as: [AuditRecord].self)
                // One object, as every command about several tenants prints: the records in a list.
                if json { return try JSONOutput.print(["records": records]) }
                for r in records {
                    print("#\(r.sequence) \(ControlJSON.formatTime(r.time)) \(r.actor) [\(r.role)] \(r.action)"
                          + (r.tenant.map { " tenant=\($0)" } ?? "") + (r.detail.isEmpty ? "" : " \(r.detail)") + " -> \(r.result)")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check the audit log's hash chain; exits 3 if it is broken.")
        @OptionGroup var daemon: DaemonOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await Failure.guarded {
                let result = try await daemon.client().get("/v1/audit/verify", as: AuditVerifyResponse.self)
                if json { try JSONOutput.print(result) } else if result.intact {
                    print("audit log intact: \(result.records) records chain correctly")
                } else {
                    print("audit log BROKEN: " + (result.breakAt.map { "record \($0): \(result.reason ?? "")" } ?? "")
                          + (result.unreadableLines.isEmpty ? "" : " unreadable lines: \(result.unreadableLines.map(String.init).joined(separator: ","))"))
                }
                if !result.intact { throw ExitCode(3) }
            }
        }
    }
}

/// `tandemctl reload`: asks the daemon to re-read its configuration (as SIGHUP does), and
/// says why when it refuses.
struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reload the daemon's configuration (operators only).")
    @OptionGroup var daemon: DaemonOptions

    func run() async throws {
        try await Failure.guarded {
            let status = try await daemon.client().post("/v1/reload", body: BackupRequest(), as: StatusResponse.self)
            print("reloaded: site \(status.site), \(status.tenants.count) tenant(s)")
        }
    }
}

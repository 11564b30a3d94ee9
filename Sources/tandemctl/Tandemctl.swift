import ArgumentParser
import TandemStore

/// `tandemctl`: the operator and tenant command line. Every repository command works offline on
/// a repository path; each subcommand lives in its own file under Commands/.
@main
struct Tandemctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandemctl",
        abstract: "Back up, restore and check Tandem repositories, offline or through tandemd.",
        discussion: """
            Offline (--repo DIR): tenant commands read the passphrase from TANDEM_PASSPHRASE, or use --key-file.
            Through the daemon (no --repo): status, backup now, snapshots, restore, check, prune, policy, audit,
            reload, repair, drill, failover and failback talk to tandemd on --socket PATH (before or after the
            subcommand), $TANDEM_SOCKET or /run/tandem/control.sock; the daemon decides by your uid which
            tenants you may see.

            Exit status: 0 success; 1 unexpected error; 3 damage found (check) or damaged data;
            4 wrong passphrase or key file; 5 not found (repository, tenant, snapshot, source);
            6 repository or object of a newer format, or a crypto suite this build cannot serve;
            7 I/O error (disk full, permission); 8 repository locked by another tandem process;
            9 already exists / refused;
            10 tandemd not reachable (or it stopped while serving an export); 11 refused by tandemd (not your tenant, not an operator, or not possible at
            this site now: not active here, home already, the lease or the witness says no);
            12 quota exceeded; 13 a daemon backup job failed (or a drill missed its objective or found the twin behind); 14 backup saved but incomplete
            (entries that could not be read are missing; see the warnings); 2 invalid configuration;
            64 bad command line; 130 interrupted.
            """,
        subcommands: [
            Init.self, TenantCommand.self, Backup.self, Snapshots.self, Restore.self, Check.self,
            Forget.self, Prune.self, KeyCommand.self, Status.self, PolicyCommand.self, Audit.self, Reload.self, Certs.self, Repair.self, Drill.self, Failover.self, Failback.self, Serve.self, Mount.self, Dump.self,
        ]
    )

    /// ArgumentParser's entry point, after the process-wide tuning every Tandem binary applies.
    static func main() async {
        ProcessTuning.apply()
        do {
            var command = try parseAsRoot(GlobalSocketOption.lift(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

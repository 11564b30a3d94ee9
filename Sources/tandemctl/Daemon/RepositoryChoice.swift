import ArgumentParser
import Foundation

/// `--repo DIR` to work offline on a repository, or nothing to ask the local `tandemd`
/// (through `--socket PATH`, `$TANDEM_SOCKET`, or /run/tandem/control.sock).
struct RepositoryChoice: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Work offline on this repository directory instead of asking tandemd.",
                                            valueName: "DIR"))
    var repo: String?

    @OptionGroup var daemon: DaemonOptions

    /// The offline repository, or nil to use the daemon.
    var offline: RepositoryOptions? {
        guard let repo else { return nil }
        var options = RepositoryOptions()
        options.repo = repo
        return options
    }
}

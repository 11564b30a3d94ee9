import Foundation

/// `tandemctl --socket PATH status` as well as `tandemctl status --socket PATH` (as `git -C` and
/// `restic -r` go before their subcommand): a `--socket` given before the subcommand is taken
/// out of the arguments and handed to every subcommand through `TANDEM_SOCKET`, which
/// ``DaemonOptions`` reads when its own `--socket` is not given.
enum GlobalSocketOption {
    /// The arguments without a leading `--socket PATH` / `--socket=PATH` (before the first
    /// word that is not an option); sets `TANDEM_SOCKET` to PATH when one was there. A
    /// `--socket` with no value is left for ArgumentParser to refuse.
    static func lift(_ arguments: [String]) -> [String] {
        var rest = arguments
        var index = 0
        while index < rest.count, rest[index].hasPrefix("-") {
            let word = rest[index]
            if word == "--socket", index + 1 < rest.count {
                setenv("TANDEM_SOCKET", rest[index + 1], 1)
                rest.removeSubrange(index...index + 1)
            } else if word.hasPrefix("--socket=") {
                setenv("TANDEM_SOCKET", String(word.dropFirst("--socket=".count)), 1)
                rest.remove(at: index)
            } else {
                index += 1
            }
        }
        return rest
    }
}

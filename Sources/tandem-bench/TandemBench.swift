import ArgumentParser
import Foundation

/// `tandem-bench`: measures Tandem's primitives, its chunking choices, its memory bound, and
/// whole backup/restore/check runs against restic and borg on the dataset of
/// the standard generator (`gen_dataset.py`, from the project's shared bench folder), and shipping to a remote site. Each subcommand lives in its own file under Commands/.
@main
struct TandemBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-bench",
        abstract: "Benchmarks for Tandem (primitives, chunking, memory, end-to-end runs vs restic/borg).",
        discussion: """
            Throughputs are MB/s (10^6 bytes per second). Sizes are MiB (2^20 bytes).
            Every figure is measured on this machine during this run; nothing is estimated.
            """,
        subcommands: [Primitives.self, Chunking.self, CompressionStudy.self, Run.self, Memory.self, Ship.self, Twin.self, Recover.self]
    )

    /// Runs the chosen subcommand, awaiting it when it is asynchronous.
    static func main() async {
        do {
            var command = try parseAsRoot()
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


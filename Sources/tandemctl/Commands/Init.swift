import ArgumentParser
import Foundation
import TandemStore

/// `tandemctl init --repo DIR`: creates an empty repository.
struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an empty repository in DIR.")

    @OptionGroup var repository: RepositoryOptions
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await Failure.guarded {
            let repo = try await Repository.initialize(backend: repository.backend(), now: Date())
            if json {
                try JSONOutput.print(repo.config)
            } else {
                print("created repository \(repo.config.id.prefix(12)) at \(repository.repo)")
            }
        }
    }
}

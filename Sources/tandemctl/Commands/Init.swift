import ArgumentParser
import Foundation
import TandemS3
import TandemStore

/// `tandemctl init --repo DIR|s3:URL`: creates an empty repository (and the bucket).
struct Init: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create an empty repository in DIR.")

    @OptionGroup var repository: RepositoryOptions
    @Flag(name: .customLong("object-lock"), help: "s3: create the bucket with object lock enabled (only possible at creation).")
    var objectLock = false
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await Failure.guarded {
            let backend = try repository.backend()
            if let s3 = backend as? S3Backend { try await s3.createBucketIfMissing(objectLock: objectLock) }
            let repo = try await Repository.initialize(backend: backend, now: Date())
            if json {
                try JSONOutput.print(repo.config)
            } else {
                print("created repository \(repo.config.id.prefix(12)) at \(repository.repo)")
            }
        }
    }
}

import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl tenant create|list`.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Create and list tenants.", subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant with a fresh random master key.")

        @OptionGroup var repository: RepositoryOptions
        @OptionGroup var tenant: TenantOptions
        @Option(help: "Crypto suite: aes256gcm, sm4 (the GM/T suite: SM4-GCM, SM3), or by name sm4gcm, sm4ctr.") var suite: String = "aes256gcm"
        @Option(help: "Chunker: cdc, cdc:MIN/AVG/MAX, fixed or fixed:SIZE.") var chunker: String = "cdc"
        @Option(help: "Compression: zstd, zstd:N (1-19), lz4 or none.") var compression: String = "zstd:3"
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            guard CryptoSuite(name: suite) != nil else {
                throw ValidationError("--suite must be one of \(CryptoSuite.acceptedNames.joined(separator: ", ")), not '\(suite)'")
            }
            do { _ = try ChunkerParameters(parsing: chunker) } catch { throw ValidationError("--chunker: \(error.description)") }
            do { _ = try Compression(parsing: compression) } catch { throw ValidationError("--compression: \(error.description)") }
        }

        func run() async throws {
            try await Failure.guarded {
                let repo = try await repository.open()
                let created = try await TenantRepository.create(
                    in: repo, name: tenant.tenant, suite: CryptoSuite(name: suite)!,
                    chunker: try ChunkerParameters(parsing: chunker), compression: try Compression(parsing: compression),
                    secret: try tenant.secret(), now: Date(), indexPath: try repository.indexPath(tenant: tenant.tenant))
                if json {
                    try JSONOutput.print(created.settings)
                } else {
                    print("created tenant \(created.name): suite \(created.settings.suite.name), chunker \(created.settings.chunker), compression \(created.settings.compression)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the repository's tenants.")

        @OptionGroup var repository: RepositoryOptions
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            try await Failure.guarded {
                let names = try await repository.open().tenantNames()
                // One object, as every command about several tenants prints: the names in a list.
                if json { try JSONOutput.print(["tenants": names]) } else { names.forEach { print($0) } }
            }
        }
    }
}

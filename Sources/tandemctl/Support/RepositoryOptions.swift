import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `--repo DIR`: the repository every command works on.
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Repository directory.", valueName: "DIR"))
    var repo: String

    func backend() -> LocalBackend { LocalBackend(root: repo) }

    func open() async throws -> Repository { try await Repository.open(backend: backend()) }
}

/// `--tenant T` and how to unlock it.
struct TenantOptions: ParsableArguments {
    @Option(name: .long, help: "Tenant name.")
    var tenant: String

    @Option(name: .customLong("key-file"), help: ArgumentHelp("Unlock with this key file instead of TANDEM_PASSPHRASE.", valueName: "FILE"))
    var keyFile: String?

    func secret() throws -> KeySecret { try Secrets.read(keyFile: keyFile, variable: "TANDEM_PASSPHRASE") }

    func open(_ repository: RepositoryOptions) async throws -> TenantRepository {
        try await TenantRepository.open(in: try await repository.open(), name: tenant, secret: try secret())
    }
}

/// Reads secrets from key files and the environment, never from the command line.
enum Secrets {
    static func read(keyFile: String?, variable: String) throws -> KeySecret {
        if let keyFile {
            guard let data = FileManager.default.contents(atPath: keyFile) else {
                throw RepositoryError.sourceUnreadable(keyFile, "key file cannot be read")
            }
            return .keyFile([UInt8](data))
        }
        guard let passphrase = ProcessInfo.processInfo.environment[variable], !passphrase.isEmpty else {
            throw ValidationError("set \(variable) to the passphrase, or pass --key-file FILE")
        }
        return .passphrase(Array(passphrase.utf8))
    }
}

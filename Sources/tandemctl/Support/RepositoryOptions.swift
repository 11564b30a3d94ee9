import ArgumentParser
import Foundation
import TandemCore
import TandemS3
import TandemStore

/// `--repo DIR` or `--repo s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX]`: the repository every
/// command works on. An s3: repository keeps its index caches under
/// `$XDG_CACHE_HOME/tandem` (or `~/.cache/tandem`).
struct RepositoryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Repository directory, or s3:http(s)://HOST[:PORT]/BUCKET[/PREFIX] (credentials from S3_ACCESS_KEY/S3_SECRET_KEY).", valueName: "DIR"))
    var repo: String

    func s3() throws -> S3Configuration? {
        try S3Configuration.parse(address: repo, environment: ProcessInfo.processInfo.environment)
    }

    func backend() throws -> any Backend {
        if let s3 = try s3() { return S3Backend(configuration: s3) }
        return LocalBackend(root: repo)
    }

    func open() async throws -> Repository { try await Repository.open(backend: try backend()) }

    /// Where a tenant's index lives: inside a local repository (nil: the default), or in the
    /// local cache for an s3: one.
    func indexPath(tenant: String) throws -> String? {
        guard let s3 = try s3() else { return nil }
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        let folder = "\(base)/tandem/\(s3.cacheName)/\(tenant)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder + "/index.sqlite"
    }
}

/// `--tenant T` and how to unlock it.
struct TenantOptions: ParsableArguments {
    @Option(name: .long, help: "Tenant name.")
    var tenant: String

    @Option(name: .customLong("key-file"), help: ArgumentHelp("Unlock with this key file instead of TANDEM_PASSPHRASE.", valueName: "FILE"))
    var keyFile: String?

    func secret() throws -> KeySecret { try Secrets.read(keyFile: keyFile, variable: "TANDEM_PASSPHRASE") }

    func open(_ repository: RepositoryOptions) async throws -> TenantRepository {
        try await TenantRepository.open(in: try await repository.open(), name: tenant, secret: try secret(),
                                        indexPath: try repository.indexPath(tenant: tenant))
    }
}

/// Reads secrets from key files and the environment, never from the command line.
enum Secrets {
    static func read(keyFile: String?, variable: String) throws -> KeySecret {
        if let keyFile {
            let fd = open(keyFile, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw RepositoryError.unreadable("key file \(keyFile)", code: errno) }
            defer { close(fd) }
            guard let data = try? FileHandle(fileDescriptor: fd).readToEnd() ?? Data() else {
                throw RepositoryError.unreadable("key file \(keyFile)", code: errno)
            }
            return .keyFile([UInt8](data))
        }
        guard let passphrase = ProcessInfo.processInfo.environment[variable], !passphrase.isEmpty else {
            throw ValidationError("set \(variable) to the passphrase, or pass --key-file FILE")
        }
        return .passphrase(Array(passphrase.utf8))
    }
}

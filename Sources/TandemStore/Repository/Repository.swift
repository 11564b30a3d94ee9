import Foundation
import TandemCodecs
import TandemCore

/// The repository-wide config file: its format version and identity.
public struct RepositoryConfig: Sendable, Codable, Equatable {
    public static let currentFormat = 1
    public var format: Int
    public var id: String
    public var createdAt: Date
}

/// A site's repository: many tenants on one backend.
///
/// Layout (format 1; the repository format article has the details): `config` (the repository
/// config, JSON) at the root, and every tenant's objects below `tenants/T/`, where
/// ``TenantLayout`` names each path.
public struct Repository: Sendable {
    public let backend: any Backend
    public let config: RepositoryConfig

    /// Creates a new repository on `backend`; refuses one that already has a config.
    public static func initialize(backend: any Backend, now: Date) async throws -> Repository {
        if try await backend.exists("config") { throw RepositoryError.alreadyInitialized(describe(backend)) }
        let config = RepositoryConfig(format: RepositoryConfig.currentFormat, id: Hex.encode(SecureRandom.bytes(16)), createdAt: now)
        try await backend.write("config", try JSON.encode(config), overwrite: false)
        return Repository(backend: backend, config: config)
    }

    /// Opens an existing repository, refusing one of a newer format.
    public static func open(backend: any Backend) async throws -> Repository {
        let bytes: [UInt8]
        do { bytes = try await backend.read("config") } catch BackendError.notFound {
            throw RepositoryError.notARepository(describe(backend))
        }
        guard let probe = try? JSON.decode(FormatProbe.self, from: bytes) else {
            throw RepositoryError.notARepository(describe(backend))
        }
        guard probe.format >= 1 else { throw FormatError.corrupt("repository config", "format \(probe.format) is not a version (1 or more)") }
        guard probe.format <= RepositoryConfig.currentFormat else {
            throw FormatError.unsupportedVersion("repository", found: probe.format, supported: 1...RepositoryConfig.currentFormat)
        }
        return Repository(backend: backend, config: try JSON.decode(RepositoryConfig.self, from: bytes))
    }

    /// Tenant names, sorted.
    public func tenantNames() async throws -> [String] {
        let paths = try await backend.list(TenantLayout.tenantsFolder)
        return Set(paths.compactMap { path -> String? in
            let parts = path.split(separator: "/")
            return parts.count == 3 && parts[2] == "tenant.json" ? String(parts[1]) : nil
        }).sorted()
    }

    static func describe(_ backend: any Backend) -> String {
        (backend as? LocalBackend)?.root ?? "the repository"
    }
}

/// Reads only `format`, so a newer file is recognised before its other fields are parsed.
struct FormatProbe: Decodable {
    let format: Int
}

/// JSON with stable key order and ISO 8601 dates, for the small plaintext files.
enum JSON {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(bytes))
    }
}

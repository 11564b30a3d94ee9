import Foundation
import TandemCodecs
import TandemCore

/// The suite a settings file names, read before the whole file so that an unknown one is
/// reported by name.
private struct SuiteProbe: Decodable {
    let suite: String
}

/// A tenant's settings, stored in plaintext in `tenants/T/tenant.json`. `suite` is stored by its
/// raw value: `"sm4"` is ``CryptoSuite/sm4ctr``.
public struct TenantSettings: Sendable, Codable, Equatable {
    public static let currentFormat = 1
    public var format: Int
    public var name: String
    public var suite: CryptoSuite
    public var chunker: ChunkerParameters
    public var compression: Compression
    public var createdAt: Date
}

/// One tenant of a repository, unlocked: its settings, keys and index. Every data operation
/// (backup, restore, check, forget, prune, keys) is an extension of this type in its own file.
public final class TenantRepository: Sendable {
    public let repository: Repository
    public let settings: TenantSettings
    public let keys: TenantKeys
    /// Kept to wrap new key slots; never logged or printed (``SecretKey`` redacts itself).
    let master: SecretKey
    public let index: IndexDatabase
    /// Where this tenant's objects live.
    public let layout: TenantLayout

    var backend: any Backend { repository.backend }
    public var name: String { settings.name }

    init(repository: Repository, settings: TenantSettings, master: SecretKey, index: IndexDatabase) throws {
        self.repository = repository
        self.master = master
        keys = try TenantKeys(master: master, suite: settings.suite)
        self.settings = settings
        self.index = index
        layout = TenantLayout(settings.name)
    }

    /// Tenant names are path components and SQL-free identifiers: keep them plain.
    public static func validateName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(name.count), name.allSatisfy(allowed.contains), !name.hasPrefix(".") else {
            throw RepositoryError.invalidTenantName(name)
        }
    }

    /// Creates a tenant with a fresh random master key (or the given one, for a tenant that
    /// must share keys with its copy at another site), wrapped in one key slot for `secret`.
    public static func create(in repository: Repository, name: String, suite: CryptoSuite, chunker: ChunkerParameters,
                              compression: Compression, secret: KeySecret, now: Date,
                              indexPath: String? = nil, master: SecretKey? = nil) async throws -> TenantRepository {
        try validateName(name)
        try chunker.validate()
        let layout = TenantLayout(name)
        if try await repository.backend.exists(layout.settings) { throw RepositoryError.tenantExists(name) }
        let master = master ?? SecretKey.random(count: 32)
        guard master.count == 32 else { throw CodecError.invalidKeyLength(expected: 32, got: master.count) }
        let slot = try KeyWrapping.wrap(master: master, secret: secret, suite: suite, tenant: name, createdAt: now)
        try await repository.backend.write(layout.key(slot.id), try JSON.encode(slot), overwrite: false)
        let settings = TenantSettings(format: TenantSettings.currentFormat, name: name, suite: suite, chunker: chunker,
                                      compression: compression, createdAt: now)
        // The settings file is written last: it is what makes the tenant exist. If another
        // process created the tenant meanwhile, our key slot wraps a master key nobody uses:
        // remove it, or the same passphrase would open a slot with the wrong key.
        do {
            try await repository.backend.write(layout.settings, try JSON.encode(settings), overwrite: false)
        } catch BackendError.alreadyExists {
            try? await repository.backend.delete(layout.key(slot.id))
            throw RepositoryError.tenantExists(name)
        }
        return try TenantRepository(repository: repository, settings: settings, master: master,
                                index: try IndexDatabase(path: try resolveIndexPath(indexPath, repository, name)))
    }

    /// Opens and unlocks a tenant; ``KeySlotError/wrongKey`` if no slot opens with `secret`.
    public static func open(in repository: Repository, name: String, secret: KeySecret,
                            indexPath: String? = nil) async throws -> TenantRepository {
        try validateName(name)
        let settingsPath = TenantLayout(name).settings
        let settingsBytes: [UInt8]
        do { settingsBytes = try await repository.backend.read(settingsPath) } catch BackendError.notFound {
            throw RepositoryError.unknownTenant(name, known: try await repository.tenantNames())
        }
        guard let probe = try? JSON.decode(FormatProbe.self, from: settingsBytes) else {
            throw FormatError.corrupt(settingsPath, "not a tenant settings file")
        }
        guard probe.format >= 1 else { throw FormatError.corrupt(settingsPath, "format \(probe.format) is not a version (1 or more)") }
        guard probe.format <= TenantSettings.currentFormat else {
            throw FormatError.unsupportedVersion(settingsPath, found: probe.format, supported: 1...TenantSettings.currentFormat)
        }
        if let named = try? JSON.decode(SuiteProbe.self, from: settingsBytes), CryptoSuite(rawValue: named.suite) == nil {
            throw FormatError.corrupt(settingsPath, "crypto suite '\(named.suite)' is not one this build knows (\(CryptoSuite.allCases.map(\.name).joined(separator: ", ")))")
        }
        let settings = try JSON.decode(TenantSettings.self, from: settingsBytes)
        // A suite this build's libraries cannot serve is said as such, not as a wrong key.
        try settings.suite.checkAvailable()
        let master = try await unlock(repository: repository, settings: settings, secret: secret)
        return try TenantRepository(repository: repository, settings: settings, master: master,
                                index: try IndexDatabase(path: try resolveIndexPath(indexPath, repository, name)))
    }

    static func unlock(repository: Repository, settings: TenantSettings, secret: KeySecret) async throws -> SecretKey {
        for slot in try await keySlots(repository: repository, tenant: settings.name) {
            if let master = try? KeyWrapping.unwrap(slot: slot, secret: secret, suite: settings.suite, tenant: settings.name) {
                return master
            }
        }
        throw KeySlotError.wrongKey
    }

    static func keySlots(repository: Repository, tenant: String) async throws -> [KeySlot] {
        var slots: [KeySlot] = []
        for path in try await repository.backend.list(TenantLayout(tenant).keys) {
            guard let slot = try? JSON.decode(KeySlot.self, from: try await repository.backend.read(path)) else { continue }
            slots.append(slot)
        }
        return slots.sorted { $0.createdAt < $1.createdAt }
    }

    static func resolveIndexPath(_ given: String?, _ repository: Repository, _ name: String) throws -> String {
        if let given { return given }
        guard let local = repository.backend as? LocalBackend else {
            throw RepositoryError.damaged("a non-local backend needs an explicit index cache path")
        }
        return local.absolute(TenantLayout(name).index)
    }

    // MARK: - Paths

    func packPath(_ name: String) -> String { layout.pack(name) }
    func snapshotPath(_ id: String) -> String { layout.snapshot(id) }

    /// Takes the tenant lock: shared for backups and for readers (restore, check, drills),
    /// exclusive for forget and prune, so prune never deletes a pack a reader is using.
    public func lock(exclusive: Bool) async throws -> BackendLock {
        try await backend.lock(layout.lock, exclusive: exclusive)
    }

    /// Runs `body` holding the tenant lock, released however `body` ends. With `waiting`, a lock
    /// held incompatibly (a forget or prune, for a reader) is tried again every 200 ms until
    /// that much time has passed; without, it fails at once with ``BackendError/locked(_:)``.
    func holdingLock<Result>(exclusive: Bool, waiting: Duration = .zero,
                             _ body: () async throws -> Result) async throws -> Result {
        let deadline = ContinuousClock.now + waiting
        var taken: BackendLock?
        while taken == nil {
            do {
                taken = try await lock(exclusive: exclusive)
            } catch BackendError.locked(let path) {
                guard ContinuousClock.now < deadline else { throw BackendError.locked(path) }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        return try await taken!.whileHeld(body)
    }
}

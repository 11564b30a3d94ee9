/// Where a tenant's objects live in a repository: the one place that names a repository path.
/// Paths are relative to the repository's root and '/'-separated, as backends take them; a
/// local repository's files sit at the same paths below its folder, and an S3 repository's
/// objects below its prefix.
///
/// ```
/// tenants/T/tenant.json             settings (suite, chunker, compression)
/// tenants/T/keys/SLOT               key slots wrapping the master key
/// tenants/T/packs/AB/NAME           packs, named by their SHA-256 (AB: its first two digits)
/// tenants/T/snapshots/ID            sealed manifests, named by the SHA-256 of their bytes
/// tenants/T/complete/ID             at a remote site or twin: a snapshot whole there
/// tenants/T/damaged/NAME            packs found damaged (their blobs left the index)
/// tenants/T/quarantine/NAME         a damaged pack's bytes, kept by a repair
/// tenants/T/lock                    the tenant lock
/// tenants/T/index.sqlite            the index (local repositories; S3 ones keep it in a cache)
/// ```
public struct TenantLayout: Sendable, Hashable {
    /// The folder holding every tenant.
    public static let tenantsFolder = "tenants"

    public let tenant: String

    public init(_ tenant: String) {
        self.tenant = tenant
    }

    /// `tenants/T`: the prefix of every object of the tenant.
    public var folder: String { "\(Self.tenantsFolder)/\(tenant)" }
    public var settings: String { "\(folder)/tenant.json" }
    public var keys: String { "\(folder)/keys" }
    public func key(_ slot: String) -> String { "\(keys)/\(slot)" }
    public var packs: String { "\(folder)/packs" }
    public func pack(_ name: String) -> String { "\(packs)/\(name.prefix(2))/\(name)" }
    public var snapshots: String { "\(folder)/snapshots" }
    public func snapshot(_ id: String) -> String { "\(snapshots)/\(id)" }
    public var completeRecords: String { "\(folder)/complete" }
    public func completeRecord(_ snapshot: String) -> String { "\(completeRecords)/\(snapshot)" }
    public var damaged: String { "\(folder)/damaged" }
    public func damaged(_ pack: String) -> String { "\(damaged)/\(pack)" }
    public func quarantine(_ pack: String) -> String { "\(folder)/quarantine/\(pack)" }
    public var lock: String { "\(folder)/lock" }
    public var index: String { "\(folder)/index.sqlite" }

    /// A tenant object by its path inside the tenant's folder (`tenant.json`, `keys/SLOT`,
    /// `snapshots/ID`), as the site link names them.
    public func object(_ relative: String) -> String { "\(folder)/\(relative)" }

    /// The last component of a listed path: a pack's name, a snapshot's ID, a key slot's ID.
    public static func name(of path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}

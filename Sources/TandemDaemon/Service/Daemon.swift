import Foundation
import Logging
import TandemCore
import TandemPolicy
import TandemS3
import TandemSites
import TandemStore

/// The daemon: the composition root that owns each part's state and the single place it
/// changes. Each part is a value with its own state and rules (the job queue, the schedule
/// marks, tenant placement and leases, twin mirroring, remote shipping); the services
/// (scheduler, job runner, control server, site links, reload, watchdog) all act through this
/// actor, and the heavy work (backups) runs off it, inside the store's own pipeline.
public actor Daemon {
    public let clock: any DaemonClock
    public let logger: Logger
    let repository: Repository
    public let audit: AuditLog
    let metrics: DaemonMetrics
    /// The configuration file and the policies in force.
    var configuration: DaemonConfiguration
    /// Queued, running and finished jobs, per-tenant outcomes, tenants held whole.
    var jobQueue = JobQueue()
    /// Schedule marks and the scheduler's doorbell.
    var schedules: ScheduleBook
    /// The newest drill results per tenant and drilled site.
    var drills: DrillBook
    /// Where each tenant is active and at which epoch; leases, the fence, peer links.
    var placement = TenantPlacement()
    /// The twin mirror, its resync doorbell, the witness client, the outdated records.
    var mirroring = TwinMirroring()
    /// The shipper to the remote site and its doorbell.
    var shipping = RemoteShipping()

    public var policies: PolicySet { configuration.policies }
    public var configPath: String { configuration.path }
    public var startedAt: Date { metrics.startedAt }

    /// Opens (or creates) the repository and state directory named by `policies`.
    public static func open(policies: PolicySet, configPath: String, clock: any DaemonClock,
                            logger: Logger) async throws -> Daemon {
        let state = policies.site.stateDirectory
        do {
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        } catch {
            throw DaemonError.io("cannot create state directory \(state): \(error.localizedDescription)")
        }
        let backend = try Self.makeBackend(policies.site.repository)
        // A policy that demands object lock must not write into a bucket without it.
        if let s3 = backend as? S3Backend, try await s3.exists("config") { try await s3.verifyObjectLock() }
        let repository: Repository
        if try await backend.exists("config") {
            repository = try await Repository.open(backend: backend)
        } else {
            if let s3 = backend as? S3Backend {
                try await s3.createBucketIfMissing(objectLock: s3.configuration.objectLockDays != nil)
                try await s3.verifyObjectLock()
            }
            repository = try await Repository.initialize(backend: backend, now: clock.now())
            logger.notice("initialized a new repository", metadata: ["location": "\(policies.site.repository.summary)"])
        }
        let audit = try AuditLog(path: (state as NSString).appendingPathComponent("audit.log"))
        return Daemon(policies: policies, configPath: configPath, clock: clock, logger: logger, repository: repository,
                      audit: audit)
    }

    private init(policies: PolicySet, configPath: String, clock: any DaemonClock, logger: Logger,
                 repository: Repository, audit: AuditLog) {
        configuration = DaemonConfiguration(path: configPath, policies: policies)
        self.clock = clock
        self.logger = logger
        self.repository = repository
        self.audit = audit
        metrics = DaemonMetrics(startedAt: clock.now())
        schedules = ScheduleBook(stateDirectory: policies.site.stateDirectory)
        drills = DrillBook(stateDirectory: policies.site.stateDirectory)
    }

    /// The backend a site config names; an s3 secret key is read from its file here.
    static func makeBackend(_ location: RepositoryLocation) throws -> any Backend {
        switch location {
        case .local(let path):
            return LocalBackend(root: path)
        case .s3(let settings):
            guard let data = FileManager.default.contents(atPath: settings.secretKeyFile) else {
                throw DaemonError.config("repository.secret_key_file \(settings.secretKeyFile) cannot be read")
            }
            let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            var configuration = S3Configuration(endpoint: settings.endpoint, bucket: settings.bucket, prefix: settings.prefix,
                                                region: settings.region, accessKey: settings.accessKey, secretKey: secret,
                                                objectLockDays: settings.objectLockDays)
            configuration.stagingDirectory = settings.cacheDirectory + "/staging"
            return S3Backend(configuration: configuration)
        }
    }

    /// Where a tenant's index lives: inside a local repository, in the cache for s3.
    func indexPath(for tenant: String) -> String { Self.indexPath(for: tenant, in: policies.site.repository) }

    nonisolated static func indexPath(for tenant: String, in location: RepositoryLocation) -> String {
        switch location {
        case .local(let root): return "\(root)/\(TenantLayout(tenant).index)"
        case .s3(let settings): return "\(settings.cacheDirectory)/\(TenantLayout(tenant).index)"
        }
    }

    func setShipper(_ shipper: Shipper?) async {
        shipping.shipper = shipper
        for policy in policies.tenants { await shipper?.setBandwidth(tenant: policy.tenant, bytesPerSecond: policy.bandwidth) }
    }

    /// Policies of tenants known to this site.
    func policy(_ tenant: String) throws -> TenantPolicy {
        guard let policy = policies.tenant(tenant) else {
            throw DaemonError.notFound("no tenant '\(tenant)' on site \(policies.site.siteName) (configured: \(policies.tenants.map(\.tenant).joined(separator: ", ")))")
        }
        return policy
    }

    // MARK: Reload

    /// Re-reads the configuration. A configuration that does not validate is refused and the
    /// running one kept; running and queued jobs are never dropped.
    @discardableResult
    public func reload(actor: String = "signal:SIGHUP") async -> Result<PolicySet, DaemonError> {
        let before = Set(policies.tenants.map(\.tenant))
        let result = configuration.reload()
        switch result {
        case .success(let loaded):
            for tenant in loaded.tenants where schedules.marks[tenant.tenant] == nil { schedules.marks[tenant.tenant] = [:] }
            schedules.bell.ring()
            let added = Set(loaded.tenants.map(\.tenant)).subtracting(before)
            logger.notice("configuration reloaded", metadata: ["tenants": "\(loaded.tenants.count)", "added": "\(added.sorted().joined(separator: ","))"])
            await record(actor: actor, role: "operator", action: "reload", tenant: nil, detail: configPath, result: "ok")
        case .failure(let error):
            logger.error("configuration reload refused; keeping the running configuration", metadata: ["error": "\(error.description)"])
            await record(actor: actor, role: "operator", action: "reload", tenant: nil, detail: configPath,
                         result: "refused: \(error.description)")
        }
        return result
    }

    /// Appends to the audit log; a failure to audit is logged loudly (the action already happened).
    func record(actor: String, role: String, action: String, tenant: String?, detail: String, result: String) async {
        do {
            try await audit.append(time: clock.now(), actor: actor, role: role, action: action, tenant: tenant,
                                   detail: detail, result: result)
        } catch {
            logger.critical("cannot write the audit log", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Marks

    func saveMarks() async {
        do {
            try await schedules.save()
        } catch {
            logger.error("cannot save schedule marks", metadata: ["error": "\(error)"])
        }
    }
}

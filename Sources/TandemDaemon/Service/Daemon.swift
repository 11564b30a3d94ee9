import Foundation
import Logging
import TandemCore
import TandemPolicy
import TandemS3
import TandemSites
import TandemStore

/// The daemon's state and the single place it changes: the loaded configuration, the job
/// queue, per-tenant outcomes, and schedule marks. The services (scheduler, job runner,
/// control server, reload, watchdog) all act through this actor; the heavy work (backups)
/// runs off it, inside the store's own pipeline.
public actor Daemon {
    public let configPath: String
    public let clock: any DaemonClock
    public let logger: Logger
    public let startedAt: Date
    public private(set) var policies: PolicySet
    let repository: Repository
    public let audit: AuditLog
    let marksFile: String
    let metrics: DaemonMetrics

    /// Schedule marks per tenant, per schedule name.
    var marks: [String: [String: SchedulePlanner.Mark]] = [:]
    /// Queued jobs, in the order they will start (priority, then arrival).
    var queue: [Job] = []
    /// Every job still queued or running, and the last finished ones, by ID.
    var entries: [String: JobEntry] = [:]
    var finishedOrder: [String] = []
    /// `tenant/source` keys of running jobs.
    var runningKeys: Set<String> = []
    var runningCount = 0
    /// Tenants whose retention waits for their other jobs to end.
    var retentionPending: Set<String> = []
    /// Tenants whose retention (forget + prune) runs now: none of their jobs may start.
    var retentionRunning: Set<String> = []
    /// Tenants being opened now (present: held), with the jobs waiting their turn.
    var openGates: [String: [CheckedContinuation<Void, Never>]] = [:]
    var outcomes: [String: TenantOutcome] = [:]
    var waiter: CheckedContinuation<Job?, Never>?
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    var shuttingDown = false
    var jobCounter = 0
    /// Wakes the scheduler (a reload, a tenant moved here).
    let scheduleBell = Doorbell()
    /// Wakes the shipper when a snapshot commits.
    let shipBell = Doorbell()
    /// Ships to the remote site (a near site with a remote peer and TLS files).
    var shipper: Shipper?
    /// Mirrors active tenants' snapshots to the twin (a near site with a twin peer).
    var twinMirror: Shipper?
    /// Each tenant's newest epoch known here; at the twin, the fence on mirrored writes.
    var fence: MirrorFence?
    /// Stores what peers send: at the remote, shipped snapshots; at a twin, the mirror.
    var receiver: RemoteReceiver?
    /// Leases and failover (a near site with a twin and a witness; a voter everywhere).
    var coordinator: LeaseCoordinator?
    /// Where each tenant is active now, and at which epoch, as the coordinator last said.
    var activeSites: [String: String] = [:]
    /// The witness, for degraded-mode records (a near site with leases in force).
    var witnessLink: PeerClient?
    /// Tenants whose twin may be recorded outdated at the witness (cleared once it catches up;
    /// every active tenant starts here, since a restart forgets what was recorded).
    var twinMaybeOutdated: Set<String> = []
    /// Tenants whose twin this site had the witness record outdated, until it is cleared.
    var twinRecordedOutdated: Set<String> = []
    var epochs: [String: UInt64] = [:]
    /// Wakes the twin resync when a snapshot commits or the twin comes back.
    let twinBell = Doorbell()
    var peerState: [String: PeerState] = [:]

    /// What the daemon remembers about a tenant's runs.
    struct TenantOutcome: Sendable {
        var lastBackup: LastBackup?
        var lastSuccess: Date?
        var failures = 0
    }

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
        self.policies = policies
        self.configPath = configPath
        self.clock = clock
        self.logger = logger
        self.repository = repository
        self.audit = audit
        startedAt = clock.now()
        marksFile = (policies.site.stateDirectory as NSString).appendingPathComponent("schedule-marks.json")
        metrics = DaemonMetrics()
        marks = Self.loadMarks(marksFile)
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
        self.shipper = shipper
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
        let result: Result<PolicySet, DaemonError>
        do {
            let loaded = try PolicySet.load(configPath: configPath)
            if loaded.site.repository != policies.site.repository || loaded.site.stateDirectory != policies.site.stateDirectory {
                result = .failure(.config("repository and state_directory cannot change on reload; restart tandemd to move them"))
            } else {
                result = .success(loaded)
            }
        } catch {
            result = .failure(.config(error.description))
        }
        switch result {
        case .success(let loaded):
            let before = Set(policies.tenants.map(\.tenant))
            policies = loaded
            for tenant in loaded.tenants where marks[tenant.tenant] == nil { marks[tenant.tenant] = [:] }
            scheduleBell.ring()
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

    static func loadMarks(_ path: String) -> [String: [String: SchedulePlanner.Mark]] {
        guard let data = FileManager.default.contents(atPath: path),
              let marks = try? ControlJSON.decoder().decode([String: [String: SchedulePlanner.Mark]].self, from: data) else { return [:] }
        return marks
    }

    func saveMarks() async {
        do {
            let bytes = Array(try ControlJSON.encoder(pretty: true).encode(marks))
            let state = policies.site.stateDirectory
            try await LocalBackend(root: state).write((marksFile as NSString).lastPathComponent, bytes, overwrite: true)
        } catch {
            logger.error("cannot save schedule marks", metadata: ["error": "\(error)"])
        }
    }
}


import Foundation

/// The control API's request and response bodies, shared by `tandemd` and `tandemctl`.
/// JSON with snake_case keys and ISO 8601 times (see ``ControlJSON``); fields are only ever
/// added, so older clients keep working.

/// `GET /v1/status`.
public struct StatusResponse: Codable, Sendable, Equatable {
    public var site: String
    public var role: String
    public var version: String
    public var startedAt: Date
    /// The caller's role as the daemon saw it: `operator` or `tenant`.
    public var caller: String
    public var tenants: [TenantStatus]
    public var jobs: [JobStatus]
    /// Where the Prometheus endpoint listens (nil when disabled).
    public var metricsAddress: String?
    /// Peer sites and their links (operators only).
    public var peers: [PeerStatus]?
    /// Snapshots tandemd serves over NBD now: every one for an operator, the caller's
    /// tenants' for a tenant user (absent from older daemons).
    public var exports: [ExportInfo]?

    public init(site: String, role: String, version: String, startedAt: Date, caller: String,
                tenants: [TenantStatus], jobs: [JobStatus]) {
        self.site = site
        self.role = role
        self.version = version
        self.startedAt = startedAt
        self.caller = caller
        self.tenants = tenants
        self.jobs = jobs
    }
}

/// One tenant in `status`.
public struct TenantStatus: Codable, Sendable, Equatable {
    public var name: String
    public var lastBackup: LastBackup?
    public var nextRun: Date?
    public var quotaUsedBytes: Int64
    public var quotaLimitBytes: Int64?
    public var quotaSoftBytes: Int64?
    public var snapshots: Int
    public var failures: Int
    /// Now minus the time of the newest snapshot complete at the remote site (nil: none yet,
    /// or no remote site).
    public var remoteRpoSeconds: Double?
    /// Age of the oldest committed snapshot not yet complete there (0: caught up).
    public var remoteLagSeconds: Double?
    public var remotePendingSnapshots: Int?
    public var remotePendingBytes: Int64?
    public var remoteError: String?
    /// The near site where the tenant is active (takes its writes, runs its schedules).
    public var activeSite: String?
    /// The tenant's epoch as this site knows it (moves up with every takeover).
    public var epoch: UInt64?
    /// When the active site's lease ends (nil: leases are not in force yet).
    public var leaseExpires: Date?
    /// At the active site: how long its lease of the tenant still runs (nil: leases not in force
    /// here, or this site holds none).
    public var leaseRemainingSeconds: Double?
    /// At the twin, while the active site is silent: seconds until the old lease has surely run
    /// out, the earliest this site may take over (nil: the active site is heard).
    public var takeoverInSeconds: Double?
    /// At the twin, why it does not take over yet (the witness disagrees, the twin is outdated,
    /// the old lease may still be in use); nil when it is not trying.
    public var takeoverHoldOff: String?
    /// The twin's state as this site sees it: `in_sync`, `catching_up`, `outdated` or
    /// `unreachable` (nil: no twin).
    public var twinState: TwinSyncMachine.TwinState?
    /// Snapshots committed here that the twin does not hold yet, and why (at the active site).
    public var twinPendingSnapshots: Int?
    public var twinError: String?

    public init(name: String, lastBackup: LastBackup?, nextRun: Date?, quotaUsedBytes: Int64, quotaLimitBytes: Int64?,
                quotaSoftBytes: Int64?, snapshots: Int, failures: Int) {
        self.name = name
        self.lastBackup = lastBackup
        self.nextRun = nextRun
        self.quotaUsedBytes = quotaUsedBytes
        self.quotaLimitBytes = quotaLimitBytes
        self.quotaSoftBytes = quotaSoftBytes
        self.snapshots = snapshots
        self.failures = failures
    }
}

/// A peer site as `status` shows it.
public struct PeerStatus: Codable, Sendable, Equatable {
    public var name: String
    public var role: String
    public var address: String
    /// Whether this site's heartbeat connection to it is up.
    public var heartbeatLinkUp: Bool
    /// Since its last heartbeat reached this site (nil: never).
    public var lastHeartbeatAgeSeconds: Double?
    public var lastError: String?

    public init(name: String, role: String, address: String, heartbeatLinkUp: Bool, lastHeartbeatAgeSeconds: Double?, lastError: String?) {
        self.name = name
        self.role = role
        self.address = address
        self.heartbeatLinkUp = heartbeatLinkUp
        self.lastHeartbeatAgeSeconds = lastHeartbeatAgeSeconds
        self.lastError = lastError
    }
}

/// The outcome of a tenant's most recent backup run.
public struct LastBackup: Codable, Sendable, Equatable {
    public var time: Date
    public var source: String
    public var snapshotId: String?
    /// `success` or `failed`.
    public var result: String
    public var message: String?
    public var seconds: Double

    public init(time: Date, source: String, snapshotId: String?, result: String, message: String?, seconds: Double) {
        self.time = time
        self.source = source
        self.snapshotId = snapshotId
        self.result = result
        self.message = message
        self.seconds = seconds
    }
}

/// A job the daemon runs or ran: a backup of one source, a check, a prune.
public struct JobStatus: Codable, Sendable, Equatable {
    public var id: String
    public var tenant: String
    /// `backup`, `check`, `prune`, `restore`.
    public var kind: String
    public var source: String?
    public var state: JobState
    /// Why it started: a schedule's name, or `manual`.
    public var trigger: String
    public var startedAt: Date?
    public var finishedAt: Date?
    public var bytesDone: Int64
    public var snapshotId: String?
    public var message: String?

    public init(id: String, tenant: String, kind: String, source: String?, state: JobState, trigger: String,
                startedAt: Date?, finishedAt: Date?, bytesDone: Int64, snapshotId: String?, message: String?) {
        self.id = id
        self.tenant = tenant
        self.kind = kind
        self.source = source
        self.state = state
        self.trigger = trigger
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.bytesDone = bytesDone
        self.snapshotId = snapshotId
        self.message = message
    }

    public var isFinished: Bool { state.isFinished }
}

/// Where a job is: waiting for a slot, running, or ended one of three ways.
public enum JobState: String, Codable, Sendable, CaseIterable {
    case queued
    case running
    case succeeded
    case failed
    /// The daemon stopped before the job ended; a backup cancelled so committed no snapshot.
    case cancelled

    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// Why the control API refused or failed a request: the `error` of an ``ErrorResponse``.
/// The daemon's router sends these and `tandemctl` maps each to its exit status.
public enum ControlErrorCode: String, Codable, Sendable, CaseIterable {
    /// Not this caller's tenant, or not an operator.
    case forbidden
    case notFound = "not_found"
    case badRequest = "bad_request"
    case quotaExceeded = "quota_exceeded"
    /// The tenant is busy (a job or a lock in the way); try again later.
    case busy
    /// The daemon's configuration did not validate.
    case invalidConfig = "invalid_config"
    /// The request clashes with what exists (a restore target that is there already).
    case conflict
    /// Not possible at this site now: the tenant is not active here, is at its home already, or
    /// the sites' state (its lease, the witness) does not allow it.
    case refused
    case failed
}

/// `POST /v1/tenants/T/backup`.
public struct BackupRequest: Codable, Sendable, Equatable {
    /// One source, or nil for all of the tenant's sources.
    public var source: String?

    public init(source: String? = nil) { self.source = source }
}

/// `POST /v1/tenants/T/backup`'s answer: the jobs started.
public struct JobsResponse: Codable, Sendable, Equatable {
    public var jobs: [JobStatus]

    public init(jobs: [JobStatus]) { self.jobs = jobs }
}

/// `POST /v1/tenants/T/restore`.
public struct RestoreRequest: Codable, Sendable, Equatable {
    public var snapshot: String
    public var target: String
    public var path: String?
    public var overwrite: Bool
    /// Re-hash every chunk to its ID (`restore --verify-ids`); absent from older clients.
    public var verifyIds: Bool?

    public init(snapshot: String, target: String, path: String? = nil, overwrite: Bool = false, verifyIds: Bool? = nil) {
        self.snapshot = snapshot
        self.target = target
        self.path = path
        self.overwrite = overwrite
        self.verifyIds = verifyIds
    }
}

/// `POST /v1/tenants/T/check`.
public struct CheckRequest: Codable, Sendable, Equatable {
    public var readData: Bool

    public init(readData: Bool = false) { self.readData = readData }
}

/// A snapshot as `snapshots` lists it.
public struct SnapshotItem: Codable, Sendable, Equatable {
    public var id: String
    public var time: Date
    public var source: String
    public var kind: String
    public var hostname: String
    public var tags: [String: String]
    public var bytes: Int64

    public init(id: String, time: Date, source: String, kind: String, hostname: String, tags: [String: String], bytes: Int64) {
        self.id = id
        self.time = time
        self.source = source
        self.kind = kind
        self.hostname = hostname
        self.tags = tags
        self.bytes = bytes
    }
}

/// `GET /v1/tenants/T/snapshots`.
public struct SnapshotsResponse: Codable, Sendable, Equatable {
    public var tenant: String
    public var snapshots: [SnapshotItem]

    public init(tenant: String, snapshots: [SnapshotItem]) {
        self.tenant = tenant
        self.snapshots = snapshots
    }
}

/// An error body: every non-2xx answer carries one.
public struct ErrorResponse: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    /// A stable machine-readable code, one of ``ControlErrorCode``'s (a newer daemon may send
    /// others: read it through ``code``).
    public var error: String
    public var message: String

    public init(error: String, message: String) {
        self.error = error
        self.message = message
    }

    public init(_ code: ControlErrorCode, message: String) {
        self.init(error: code.rawValue, message: message)
    }

    /// The code, or nil for one this build does not know.
    public var code: ControlErrorCode? { ControlErrorCode(rawValue: error) }

    public var description: String { message }
}

/// `POST /v1/tenants/T/repair`: what repair from the remote site found and did.
public struct RepairReport: Codable, Sendable, Equatable {
    public var tenant: String
    /// Problems `check --read-data` found before.
    public var problemsBefore: [String]
    /// Packs fetched from the remote site (each verified by its SHA-256 name).
    public var fetched: [String]
    /// Damaged packs no peer could give, moved aside (`tenants/T/quarantine/`) so that no new
    /// backup deduplicates against them; their data is stored afresh by the next backup.
    public var quarantined: [String]
    /// Problems left after repair.
    public var problemsAfter: [String]

    public init(tenant: String, problemsBefore: [String], fetched: [String], quarantined: [String], problemsAfter: [String]) {
        self.tenant = tenant
        self.problemsBefore = problemsBefore
        self.fetched = fetched
        self.quarantined = quarantined
        self.problemsAfter = problemsAfter
    }
}

/// `POST /v1/tenants/T/drill` body.
/// `POST /v1/tenants/T/failover`: move the tenant to another near site.
public struct FailoverRequest: Codable, Sendable, Equatable {
    /// The site to move to (default: the other near site; for `failback`, the home site).
    public var to: String?
    /// Promote this site without the witness and without the old site (the operator's call,
    /// when both are gone); needs `reason`. Both histories are kept.
    public var force: Bool
    public var reason: String?
    /// Failback: move to the tenant's configured `home_site`.
    public var back: Bool

    public init(to: String?, force: Bool = false, reason: String? = nil, back: Bool = false) {
        self.to = to
        self.force = force
        self.reason = reason
        self.back = back
    }
}

/// What a failover did.
public struct FailoverReport: Codable, Sendable, Equatable {
    public var tenant: String
    /// `switchover` (planned, nothing lost) or `forced`.
    public var kind: String
    public var from: String
    public var to: String
    public var epoch: UInt64
    public var seconds: Double
    /// Snapshots sent to the new active site before the lease moved.
    public var snapshotsSynced: Int
    /// For a forced promotion: what may have diverged.
    public var divergence: String?

    public init(tenant: String, kind: String, from: String, to: String, epoch: UInt64, seconds: Double, snapshotsSynced: Int,
                divergence: String?) {
        self.tenant = tenant
        self.kind = kind
        self.from = from
        self.to = to
        self.epoch = epoch
        self.seconds = seconds
        self.snapshotsSynced = snapshotsSynced
        self.divergence = divergence
    }
}

public struct DrillRequest: Codable, Sendable, Equatable {
    /// `twin` or `remote`.
    public var site: String
    /// Also serve the copy over NBD and time the first verified read (image snapshots).
    public var instant: Bool?

    public init(site: String, instant: Bool? = nil) {
        self.site = site
        self.instant = instant
    }
}

/// What a drill measured: the newest snapshot held at the site, fetched into a scratch area,
/// verified byte for byte and restored there, without touching production.
public struct DrillReport: Codable, Sendable, Equatable {
    public var tenant: String
    public var site: String
    public var snapshotId: String
    public var snapshotTime: Date
    /// Now minus the snapshot's time: what a disaster now would lose.
    public var rpoSeconds: Double
    /// From the start of the drill to a verified restore: how long recovery takes.
    public var rtoSeconds: Double
    public var bytesRestored: Int64
    public var files: Int
    public var problems: [String]
    /// The policy's objective for this copy (`remote_rpo` at the remote; nil at the twin, which
    /// has no objective of its own: it must be current, see ``twinCurrent``).
    public var rpoObjectiveSeconds: Double?
    public var rpoMet: Bool?
    /// At the twin: whether it holds the newest snapshot committed at the active site (it is
    /// synchronous); nil for the remote.
    public var twinCurrent: Bool?
    /// Every byte of the snapshot was read back, authenticated and restored (no problems).
    public var verified: Bool
    /// Verified, the RPO objective (where there is one) met, and a twin current.
    public var objectivesMet: Bool
    /// From the start of the drill until the copy was at hand in the scratch area (fetched
    /// over the link); part of ``rtoSeconds``.
    public var fetchSeconds: Double?
    /// With `instant`: from the copy at hand to the first 4 KiB read answered over NBD, every
    /// chunk of it authenticated: how soon a VM could boot from the copy at the site.
    public var instantRtoSeconds: Double?

    public init(tenant: String, site: String, snapshotId: String, snapshotTime: Date, rpoSeconds: Double, rtoSeconds: Double,
                bytesRestored: Int64, files: Int, problems: [String], rpoObjectiveSeconds: Double?, rpoMet: Bool?,
                twinCurrent: Bool? = nil, fetchSeconds: Double? = nil, instantRtoSeconds: Double? = nil) {
        self.fetchSeconds = fetchSeconds
        self.instantRtoSeconds = instantRtoSeconds
        verified = problems.isEmpty
        objectivesMet = problems.isEmpty && rpoMet != false && twinCurrent != false
        self.twinCurrent = twinCurrent
        self.tenant = tenant
        self.site = site
        self.snapshotId = snapshotId
        self.snapshotTime = snapshotTime
        self.rpoSeconds = rpoSeconds
        self.rtoSeconds = rtoSeconds
        self.bytesRestored = bytesRestored
        self.files = files
        self.problems = problems
        self.rpoObjectiveSeconds = rpoObjectiveSeconds
        self.rpoMet = rpoMet
    }
}

/// `GET /v1/tenants/T/policy`: the policy file as written, and when it next runs.
public struct PolicyDocument: Codable, Sendable, Equatable {
    public var tenant: String
    public var file: String
    public var text: String
    public var nextRun: Date?

    public init(tenant: String, file: String, text: String, nextRun: Date?) {
        self.tenant = tenant
        self.file = file
        self.text = text
        self.nextRun = nextRun
    }
}

/// `GET /v1/audit/verify`.
public struct AuditVerifyResponse: Codable, Sendable, Equatable {
    public var records: Int
    public var intact: Bool
    public var breakAt: Int?
    public var reason: String?
    public var unreadableLines: [Int]

    public init(records: Int, intact: Bool, breakAt: Int?, reason: String?, unreadableLines: [Int]) {
        self.records = records
        self.intact = intact
        self.breakAt = breakAt
        self.reason = reason
        self.unreadableLines = unreadableLines
    }
}

/// JSON coding for the control API: snake_case keys, ISO 8601 times with fractional seconds.
public enum ControlJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(formatTime(date))
        }
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseTime(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an ISO 8601 time")
            }
            return date
        }
        return decoder
    }

    /// `2026-11-26T13:20:18.123Z`.
    public static func formatTime(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    public static func parseTime(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))
    }
}

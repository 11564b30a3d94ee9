import Foundation
import TandemCore

/// One tenant's backup policy, from `/etc/tandem/tenants.d/NAME.yaml`: who may act as the
/// tenant, where its key comes from, what to back up, when, and what to keep.
public struct TenantPolicy: Sendable, Equatable {
    public var tenant: String
    /// The file it was read from (for messages).
    public var file: String
    public var access: TenantAccess
    /// Required at a near site; a remote or witness site stores and verifies without keys, so
    /// its copy of a policy (for the remote's own retention) may leave it out.
    public var key: KeySource?
    public var suite: CryptoSuite
    public var chunker: ChunkerParameters
    public var compression: Compression
    public var sources: [PolicySource]
    public var schedules: [PolicySchedule]
    /// Runs start only inside this daily window (nil: any time).
    public var window: TimeWindow?
    /// The zone of the window and the default zone of cron schedules.
    public var timeZone: TimeZone
    /// Retention per site name; `default` applies where no site is named.
    public var retention: [String: RetentionPolicy]
    public var quota: Quota
    /// Bytes per second for this tenant's transfers (nil: unlimited).
    public var bandwidth: Int?
    /// 1 (first) to 10 (last): which due run starts first when job slots are scarce.
    public var priority: Int
    public var twin: TwinMode
    /// The near site where the tenant is active (runs its schedules and takes its writes);
    /// the other near site is its twin. Required where the site has a twin.
    public var homeSite: String? = nil
    /// The largest acceptable age of the newest snapshot at the remote site.
    public var remoteRPO: TimeInterval?
    /// The largest acceptable age of the newest successful backup at the active site (what the
    /// `TandemBackupRPOExceeded` alert compares with; nil: no objective).
    public var rpo: TimeInterval? = nil

    /// The retention rules for `site` (its own entry, else `default`).
    public func retention(forSite site: String) -> RetentionPolicy? {
        retention[site] ?? retention["default"]
    }

    public func source(named name: String) -> PolicySource? { sources.first { $0.name == name } }
}

/// Local users allowed to act as a tenant through the control socket.
public struct TenantAccess: Sendable, Equatable {
    public var uids: [UInt32]
    /// Group names; a user in any of them is this tenant.
    public var groups: [String]

    public init(uids: [UInt32] = [], groups: [String] = []) {
        self.uids = uids
        self.groups = groups
    }
}

/// Where the daemon gets a tenant's key. The secret itself never appears in a policy file.
public enum KeySource: Sendable, Equatable {
    /// A key file's bytes (at least 32 bytes of randomness).
    case keyFile(String)
    /// A file holding a passphrase (the trailing newline is dropped).
    case passphraseFile(String)
    /// A command (argv) whose standard output is the key, as from a KMS client.
    case command([String])
}

/// A command run before or after a source's backup: argv, or a shell line run by `/bin/sh -c`.
public struct HookCommand: Sendable, Equatable, CustomStringConvertible {
    public var arguments: [String]

    public init(arguments: [String]) { self.arguments = arguments }

    public static func shell(_ line: String) -> HookCommand { HookCommand(arguments: ["/bin/sh", "-c", line]) }

    public var description: String { arguments.joined(separator: " ") }
}

/// What one source reads.
public enum PolicySourceKind: Sendable, Equatable {
    case image(path: String)
    case device(path: String)
    case directory(path: String, excludes: [String])
    /// A command whose standard output is the stream (a database dump, `zfs send`).
    case command(HookCommand)

    public var label: String {
        switch self {
        case .image: "image"
        case .device: "device"
        case .directory: "directory"
        case .command: "command"
        }
    }
}

/// A named source of a tenant, with its hooks and time limit.
public struct PolicySource: Sendable, Equatable {
    public var name: String
    public var kind: PolicySourceKind
    public var pre: [HookCommand]
    public var post: [HookCommand]
    /// Limit for each hook, and for a command source's whole run.
    public var timeout: TimeInterval
    public var tags: [String: String]

    public static let defaultTimeout: TimeInterval = 3600
}

/// A named schedule and the sources it backs up.
public struct PolicySchedule: Sendable, Equatable {
    public var name: String
    public var trigger: ScheduleTrigger
    public var sources: [String]
}

/// Soft and hard limits on the bytes a tenant stores at a site.
public struct Quota: Sendable, Equatable {
    /// Above this, a warning is logged and counted.
    public var soft: Int64?
    /// At or above this, new backups are refused before they start.
    public var hard: Int64?

    public init(soft: Int64? = nil, hard: Int64? = nil) {
        self.soft = soft
        self.hard = hard
    }
}

/// Whether the twin must hold a snapshot before it counts as committed.
public enum TwinMode: String, Sendable, Equatable {
    case required, preferred
}

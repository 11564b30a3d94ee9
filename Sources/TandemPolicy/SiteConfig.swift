import Foundation
import TandemCore

/// This site's configuration, from `/etc/tandem/tandem.yaml`: its name and role, where its
/// repository lives, where the daemon listens, and (for the site link) its peers, TLS files
/// and heartbeat settings.
public struct SiteConfig: Sendable, Equatable {
    /// The file it was read from (absolute).
    public var file: String
    public var siteName: String
    public var role: SiteRole
    public var repository: RepositoryLocation
    /// The daemon's own state: schedule state, audit log, job scratch space.
    public var stateDirectory: String
    /// Where tenant policies are read from (`*.yaml`).
    public var tenantsDirectory: String
    public var controlSocket: String
    /// Members of this group (and root) are operators on the control socket.
    public var operatorsGroup: String?
    /// Further uids treated as operators (for hosts without such a group).
    public var operatorUIDs: [UInt32]
    /// `host:port` of the Prometheus endpoint, nil when disabled.
    public var metricsAddress: HostPort?
    /// `host:port` for peer sites' links (used by the site link).
    public var listenAddress: HostPort?
    public var tls: TLSFiles?
    public var peers: [PeerSite]
    public var heartbeat: HeartbeatSettings
    /// Backups that may run at once on this site.
    public var maxConcurrentJobs: Int
    public var logLevel: LogLevel
    /// Shipping to the remote site: the site-wide bandwidth by time of day, and how often a
    /// failed or idle shipper looks again.
    public var shipping = ShippingSettings()

    /// The directory holding `file`, against which relative paths resolve.
    public var directory: String { (file as NSString).deletingLastPathComponent }
}

/// What a site is for.
public enum SiteRole: String, Sendable, Equatable, CaseIterable {
    /// A home or twin site: runs tenants' backups.
    case near
    /// The remote copy and witness.
    case remote
    /// A witness only (no repository writes of its own).
    case witness
}

/// Where the repository is.
public enum RepositoryLocation: Sendable, Equatable {
    case local(path: String)
    case s3(S3RepositorySettings)
}

extension RepositoryLocation {
    /// For logs: the path, or `s3 ENDPOINT/BUCKET/PREFIX`.
    public var summary: String {
        switch self {
        case .local(let path): path
        case .s3(let s): "s3 \(s.endpoint)/\(s.bucket)" + (s.prefix.isEmpty ? "" : "/\(s.prefix)")
        }
    }
}

/// A repository on an S3-compatible store. The secret key is read from a file at start, never
/// written in the config.
public struct S3RepositorySettings: Sendable, Equatable {
    public var endpoint: String
    public var bucket: String
    public var prefix: String
    public var region: String
    public var accessKey: String
    public var secretKeyFile: String
    /// COMPLIANCE-mode object lock retention for every object, in days (nil: none).
    public var objectLockDays: Int?
    /// Local folder for index caches and upload staging.
    public var cacheDirectory: String
}

/// A `host:port` pair.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; port 0 asks the system for a free one.
    public init(parsing text: String) throws(HostPortError) {
        var rest = Substring(text)
        let host: String
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .unparsable(text) }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            guard rest.hasPrefix(":") else { throw .unparsable(text) }
            rest = rest.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw .unparsable(text) }
            host = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(rest) else { throw .unparsable(text) }
        guard (0...65535).contains(port) else { throw .portOutOfRange(port) }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Why an address was refused.
public enum HostPortError: Error, Equatable, CustomStringConvertible {
    case unparsable(String)
    case portOutOfRange(Int)

    public var description: String {
        switch self {
        case .unparsable(let text): "'\(text)' is not host:port"
        case .portOutOfRange(let port): "port \(port) is outside 0-65535"
        }
    }
}

/// Another site this one talks to.
public struct PeerSite: Sendable, Equatable {
    public var name: String
    public var role: PeerRole
    public var address: HostPort
}

/// What a peer is to this site.
public enum PeerRole: String, Sendable, Equatable, CaseIterable {
    /// The other near site (from a near site).
    case twin
    /// The remote site (from a near site).
    case remote
    /// A witness only.
    case witness
    /// A near site (from the remote or witness site).
    case near

    /// The role such a peer states about itself on the link.
    public var linkRole: String {
        switch self {
        case .twin, .near: "near"
        case .remote: "remote"
        case .witness: "witness"
        }
    }
}

/// How this site ships to the remote site.
public struct ShippingSettings: Sendable, Equatable {
    /// The site-wide limit by time of day (all tenants together; each tenant's own
    /// `bandwidth` applies as well).
    public var bandwidth = BandwidthSchedule(defaultRate: nil)
    /// Seconds between shipping rounds when nothing new commits (and after a failure).
    public var retry: TimeInterval = 30

    public init() {}
}

/// Heartbeat and lease timing; both near sites must agree on these.
public struct HeartbeatSettings: Sendable, Equatable {
    public var interval: TimeInterval = 1
    public var failoverAfter: Int = 3
    public var lease: TimeInterval = 10
    /// The most two sites' clocks may drift apart over one lease (see TandemCore's
    /// `LeaseSettings` for the timing argument).
    public var driftMargin: TimeInterval = 0.5

    public init() {}

    /// `interval_ms/failover_after/lease_ms/drift_ms`, compared by twins at the handshake.
    public var fingerprint: String {
        "\(Int(interval * 1000))/\(failoverAfter)/\(Int(lease * 1000))/\(Int(driftMargin * 1000))"
    }

    /// The validated lease timing these settings describe.
    public func leaseSettings() throws(LeaseSettingsError) -> LeaseSettings {
        try LeaseSettings(interval: .milliseconds(Int64(interval * 1000)), failoverAfter: failoverAfter,
                          leaseDuration: .milliseconds(Int64(lease * 1000)), driftMargin: .milliseconds(Int64(driftMargin * 1000)))
    }
}

/// How much the daemon logs.
public enum LogLevel: String, Sendable, Equatable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

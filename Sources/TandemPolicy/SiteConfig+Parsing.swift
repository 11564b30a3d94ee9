import Foundation
import TandemCore

extension SiteConfig {
    static let keys = ["site", "role", "repository", "state_directory", "tenants_directory", "control", "metrics",
                       "listen", "tls", "peers", "heartbeat", "jobs", "log_level", "shipping"]

    /// Reads a site config from YAML text; `file` names it in errors and anchors relative paths.
    public static func parse(_ text: String, file: String) throws(ConfigErrors) -> SiteConfig {
        let context = ConfigContext(file: file)
        let config = context.root(text).flatMap { read($0, file: file) }
        guard let config, context.errors.isEmpty else { throw ConfigErrors(context.errors) }
        return config
    }

    private static func read(_ root: ConfigNode, file: String) -> SiteConfig? {
        guard let map = root.mapping(keys) else { return nil }
        let directory = (file as NSString).deletingLastPathComponent
        func path(_ node: ConfigNode?) -> String? {
            node?.parsed { text throws(PathError) in try resolve(text, against: directory) }
        }
        let name = map.required("site")?.parsed { text throws(NameError) in try PolicyNames.check(text, what: "site name") }
        let role = map["role"]?.choice(SiteRole.allCases.map(\.rawValue)).flatMap(SiteRole.init(rawValue:)) ?? .near

        let state = path(map["state_directory"]) ?? "/var/lib/tandem"
        var repository: RepositoryLocation?
        if let node = map.required("repository"),
           let repo = node.mapping(["backend", "path", "endpoint", "bucket", "prefix", "region", "access_key", "secret_key_file",
                                    "object_lock_days", "cache_directory"]) {
            let backend = repo["backend"]?.choice(["local", "s3"]) ?? "local"
            if backend == "local" {
                for key in repo.keys where !["backend", "path"].contains(key) { repo[key]?.fail("'\(key)' applies to backend s3 only") }
                if let p = path(repo.required("path")) { repository = .local(path: p) }
            } else {
                if repo["path"] != nil { repo["path"]?.fail("backend s3 takes endpoint, bucket and prefix, not path") }
                let endpoint = repo.required("endpoint")?.parsed { text throws(PathError) in
                    guard text.hasPrefix("http://") || text.hasPrefix("https://") else {
                        throw PathError(description: "'\(text)' is not an http:// or https:// URL")
                    }
                    return text
                }
                let bucket = repo.required("bucket")?.parsed { text throws(NameError) in
                    let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-")
                    guard (3...63).contains(text.count), text.allSatisfy(allowed.contains) else {
                        throw NameError(description: "bucket '\(text)' must be 3-63 lower-case letters, digits, '.' or '-'")
                    }
                    return text
                }
                let access = repo.required("access_key")?.string()
                let secretFile = path(repo.required("secret_key_file"))
                let lockDays = repo["object_lock_days"]?.int(in: 1...36500)
                let cache = path(repo["cache_directory"]) ?? (state as NSString).appendingPathComponent("cache")
                if let endpoint, let bucket, let access, let secretFile {
                    repository = .s3(S3RepositorySettings(endpoint: endpoint, bucket: bucket, prefix: repo["prefix"]?.string() ?? "",
                                                          region: repo["region"]?.string() ?? "us-east-1", accessKey: access,
                                                          secretKeyFile: secretFile, objectLockDays: lockDays, cacheDirectory: cache))
                }
            }
        }
        let tenants = path(map["tenants_directory"]) ?? (directory as NSString).appendingPathComponent("tenants.d")

        var socket = "/run/tandem/control.sock"
        var group: String? = "tandem-operators"
        var operatorUIDs: [UInt32] = []
        if let control = map["control"]?.mapping(["socket", "operators_group", "operator_uids"]) {
            socket = path(control["socket"]) ?? socket
            if let g = control["operators_group"] { group = g.isNull ? nil : g.string() }
            operatorUIDs = control["operator_uids"]?.list()?.compactMap { $0.int(in: 0...Int(UInt32.max - 1)).map(UInt32.init) } ?? []
        }
        var metrics: HostPort? = HostPort(host: "127.0.0.1", port: 9464)
        if let node = map["metrics"] {
            if let m = node.mapping(["listen"]), let listen = m.required("listen") {
                metrics = listen.string() == "off" ? nil : listen.parsed { text throws(HostPortError) in try HostPort(parsing: text) }
            }
        }
        let listen = map["listen"]?.parsed { text throws(HostPortError) in try HostPort(parsing: text) }
        var tls: TLSFiles?
        if let node = map["tls"], let t = node.mapping(["ca", "certificate", "key"]) {
            if let ca = path(t.required("ca")), let cert = path(t.required("certificate")), let key = path(t.required("key")) {
                tls = TLSFiles(ca: ca, certificate: cert, key: key)
            }
        }
        var peers: [PeerSite] = []
        for item in map["peers"]?.list() ?? [] {
            guard let p = item.mapping(["name", "role", "address"]) else { continue }
            let peerName = p.required("name")?.parsed { text throws(NameError) in try PolicyNames.check(text, what: "site name") }
            let peerRole = p.required("role")?.choice(PeerRole.allCases.map(\.rawValue)).flatMap(PeerRole.init(rawValue:))
            let address = p.required("address")?.parsed { text throws(HostPortError) in try HostPort(parsing: text) }
            if let peerName, let peerRole, let address {
                if peerName == name { item.fail("a peer cannot have this site's own name '\(peerName)'") }
                if peers.contains(where: { $0.name == peerName }) { item.fail("peer '\(peerName)' is listed twice") }
                peers.append(PeerSite(name: peerName, role: peerRole, address: address))
            }
        }
        var heartbeat = HeartbeatSettings()
        if let node = map["heartbeat"], let h = node.mapping(["interval", "failover_after", "lease", "drift_margin"]) {
            heartbeat.interval = h["interval"]?.parsed(PolicyDuration.parseFraction) ?? heartbeat.interval
            heartbeat.failoverAfter = h["failover_after"]?.int(in: 1...1000) ?? heartbeat.failoverAfter
            heartbeat.lease = h["lease"]?.parsed(PolicyDuration.parseFraction) ?? heartbeat.lease
            heartbeat.driftMargin = h["drift_margin"]?.parsed(PolicyDuration.parseFraction) ?? heartbeat.driftMargin
            do { _ = try heartbeat.leaseSettings() } catch {
                (h["lease"] ?? node).fail(error.description)
            }
        }
        var jobs = 2
        if let node = map["jobs"], let j = node.mapping(["max_concurrent"]) {
            jobs = j["max_concurrent"]?.int(in: 1...64) ?? jobs
        }
        var shipping = ShippingSettings()
        if let node = map["shipping"], let sh = node.mapping(["bandwidth", "windows", "time_zone", "retry"]) {
            shipping.bandwidth.defaultRate = sh["bandwidth"]?.parsed { text throws(ByteRateError) in try ByteRate.parse(text) }
            shipping.bandwidth.timeZone = sh["time_zone"]?.parsed(zoneNamed) ?? shipping.bandwidth.timeZone
            shipping.retry = sh["retry"]?.parsed(PolicyDuration.parseFraction) ?? shipping.retry
            for item in sh["windows"]?.list() ?? [] {
                guard let w = item.mapping(["window", "bandwidth"]) else { continue }
                let window = w.required("window")?.parsed { text in try TimeWindow(parsing: text) }
                let rate = w.required("bandwidth")?.parsed { text throws(ByteRateError) in try ByteRate.parse(text) }
                if let window, let rate { shipping.bandwidth.windows.append(.init(window: window, rate: rate)) }
            }
        }
        let level = map["log_level"]?.choice(LogLevel.allCases.map(\.rawValue)).flatMap(LogLevel.init(rawValue:)) ?? .info
        guard let name, let repository else { return nil }
        return SiteConfig(file: file, siteName: name, role: role, repository: repository, stateDirectory: state,
                          tenantsDirectory: tenants, controlSocket: socket, operatorsGroup: group,
                          operatorUIDs: operatorUIDs, metricsAddress: metrics, listenAddress: listen, tls: tls,
                          peers: peers, heartbeat: heartbeat, maxConcurrentJobs: jobs, logLevel: level, shipping: shipping)
    }
}

/// Why a path was refused.
struct PathError: Error, CustomStringConvertible {
    let description: String
}

/// Resolves a config path: absolute as given, relative against the config file's directory.
func resolve(_ text: String, against directory: String) throws(PathError) -> String {
    guard !text.isEmpty else { throw PathError(description: "the path is empty") }
    guard !text.contains("\0") else { throw PathError(description: "the path contains a NUL byte") }
    let joined = text.hasPrefix("/") ? text : (directory as NSString).appendingPathComponent(text)
    return (joined as NSString).standardizingPath
}

/// Why a name was refused.
struct NameError: Error, CustomStringConvertible {
    let description: String
}

/// Names of sites, tenants, sources and schedules: plain identifiers, since they become
/// file names, metric labels and URL path parts.
enum PolicyNames {
    static func check(_ text: String, what: String) throws(NameError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(text.count), text.allSatisfy(allowed.contains), !text.hasPrefix("."), !text.hasPrefix("-") else {
            throw NameError(description: "\(what) '\(text)' must be 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'")
        }
        return text
    }
}

import Foundation
import TandemCore

extension TenantPolicy {
    static let keys = ["tenant", "access", "key", "suite", "chunker", "compression", "sources", "schedules", "window",
                       "time_zone", "retention", "quota", "bandwidth", "priority", "twin", "home_site", "remote_rpo", "rpo"]
    static let sourceKeys = ["name", "image", "device", "directory", "command", "exclude", "pre", "post", "timeout", "tags"]
    static let retentionKeys = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly",
                                "keep_within"]

    /// Reads one tenant policy from YAML text; `file` names it in errors and anchors relative paths.
    public static func parse(_ text: String, file: String) throws(ConfigErrors) -> TenantPolicy {
        let context = ConfigContext(file: file)
        let policy = context.root(text).flatMap { read($0, file: file) }
        guard let policy, context.errors.isEmpty else { throw ConfigErrors(context.errors) }
        return policy
    }

    private static func read(_ root: ConfigNode, file: String) -> TenantPolicy? {
        guard let map = root.mapping(keys) else { return nil }
        let directory = (file as NSString).deletingLastPathComponent
        let tenant = map.required("tenant")?.parsed { text throws(NameError) in try PolicyNames.check(text, what: "tenant name") }

        var access = TenantAccess()
        if let node = map["access"], let a = node.mapping(["uids", "groups"]) {
            access.uids = a["uids"]?.list()?.compactMap { $0.int(in: 0...Int(UInt32.max - 1)).map(UInt32.init) } ?? []
            access.groups = a["groups"]?.strings() ?? []
        }

        var key: KeySource?
        if let node = map["key"], let k = node.mapping(["key_file", "passphrase_file", "key_command"]) {
            if k.keys.count != 1 {
                node.fail("give exactly one of key_file, passphrase_file or key_command")
            } else if let f = k["key_file"] {
                key = f.parsed { text throws(PathError) in try resolve(text, against: directory) }.map(KeySource.keyFile)
            } else if let f = k["passphrase_file"] {
                key = f.parsed { text throws(PathError) in try resolve(text, against: directory) }.map(KeySource.passphraseFile)
            } else if let c = k["key_command"], let command = hook(c) {
                key = .command(command.arguments)
            }
        }
        let suite = map["suite"]?.choice(CryptoSuite.acceptedNames).flatMap(CryptoSuite.init(name:)) ?? .aes256gcm
        let chunker = map["chunker"]?.parsed { text throws(ChunkerParameterError) in try ChunkerParameters(parsing: text) } ?? .defaultCDC
        let compression = map["compression"]?.parsed { text throws(CompressionParseError) in try Compression(parsing: text) } ?? .default
        let zone = map["time_zone"]?.parsed(zoneNamed) ?? TimeZone(identifier: "UTC")!

        var sources: [PolicySource] = []
        if let list = map["sources"]?.list() {
            if list.isEmpty { map["sources"]?.fail("a tenant needs at least one source (leave sources out for a remote site's policy)") }
            for item in list {
                guard let source = readSource(item, directory: directory) else { continue }
                if sources.contains(where: { $0.name == source.name }) {
                    item.fail("source '\(source.name)' is defined twice")
                } else {
                    sources.append(source)
                }
            }
        }

        var schedules: [PolicySchedule] = []
        for item in map["schedules"]?.list() ?? [] {
            guard let schedule = readSchedule(item, zone: zone, sources: sources) else { continue }
            if schedules.contains(where: { $0.name == schedule.name }) {
                item.fail("schedule '\(schedule.name)' is defined twice")
            } else {
                schedules.append(schedule)
            }
        }

        let window = map["window"]?.parsed { text in try TimeWindow(parsing: text) }
        var retention: [String: RetentionPolicy] = [:]
        if let node = map["retention"], let r = node.mapping(retentionKeys + ["default", "sites"]) {
            let flat = r.keys.filter(retentionKeys.contains)
            if r.keys.isEmpty {
                node.fail("retention that keeps nothing: give at least one of \(retentionKeys.joined(separator: ", ")), or leave retention out to keep every snapshot")
            } else if !flat.isEmpty && r["default"] != nil {
                node.fail("give the rules either directly or under 'default', not both")
            } else if !flat.isEmpty {
                retention["default"] = readRetention(node)
            } else if let d = r["default"] {
                retention["default"] = readRetention(d)
            }
            if let sites = r["sites"], case .mapping(let mapping) = sites.node {
                for (siteKey, _) in mapping {
                    guard let siteName = siteKey.string else { continue }
                    guard (try? PolicyNames.check(siteName, what: "site name")) != nil else {
                        ConfigNode(siteKey, field: "\(sites.field).\(siteName)", context: sites.context).fail("'\(siteName)' is not a site name")
                        continue
                    }
                }
                if let m = sites.mapping(mapping.keys.compactMap(\.string)) {
                    for siteName in m.keys { if let n = m[siteName] { retention[siteName] = readRetention(n) } }
                }
            } else if let sites = r["sites"] {
                _ = sites.mapping([])
            }
        }

        var quota = Quota()
        if let node = map["quota"], let q = node.mapping(["soft", "hard"]) {
            quota.soft = q["soft"].flatMap(byteCount)
            quota.hard = q["hard"].flatMap(byteCount)
            if let soft = quota.soft, let hard = quota.hard, soft > hard {
                node.fail("the soft limit (\(soft) bytes) is above the hard limit (\(hard) bytes)")
            }
        }
        let bandwidth = map["bandwidth"]?.parsed { text throws(ByteRateError) in try ByteRate.parse(text) }
        let priority = map["priority"]?.int(in: 1...10) ?? 5
        let twin = map["twin"]?.choice(["required", "preferred"]).flatMap(TwinMode.init(rawValue:)) ?? .preferred
        let remoteRPO = map["remote_rpo"]?.parsed(PolicyDuration.parse)
        let rpo = map["rpo"]?.parsed(PolicyDuration.parse)
        let homeSite = map["home_site"]?.parsed { text throws(NameError) in try PolicyNames.check(text, what: "site name") }

        if map["key"] == nil, !sources.isEmpty || !schedules.isEmpty {
            root.fail("missing required key 'key' (a tenant with sources needs its key)")
            return nil
        }
        guard let tenant else { return nil }
        return TenantPolicy(tenant: tenant, file: file, access: access, key: key, suite: suite, chunker: chunker,
                            compression: compression, sources: sources, schedules: schedules, window: window,
                            timeZone: zone, retention: retention, quota: quota, bandwidth: bandwidth, priority: priority,
                            twin: twin, homeSite: homeSite, remoteRPO: remoteRPO, rpo: rpo)
    }

    private static func readSource(_ item: ConfigNode, directory: String) -> PolicySource? {
        guard let s = item.mapping(sourceKeys) else { return nil }
        let name = s.required("name")?.parsed { text throws(NameError) in try PolicyNames.check(text, what: "source name") }
        let kinds = ["image", "device", "directory", "command"].filter { s[$0] != nil }
        guard kinds.count == 1 else {
            item.fail(kinds.isEmpty ? "a source needs one of image, device, directory or command"
                                    : "a source has exactly one of image, device, directory or command, found \(kinds.joined(separator: " and "))")
            return nil
        }
        func path(_ node: ConfigNode) -> String? { node.parsed { text throws(PathError) in try resolve(text, against: directory) } }
        var kind: PolicySourceKind?
        switch kinds[0] {
        case "image": kind = s["image"].flatMap(path).map { .image(path: $0) }
        case "device": kind = s["device"].flatMap(path).map { .device(path: $0) }
        case "directory":
            let excludes = s["exclude"]?.strings() ?? []
            kind = s["directory"].flatMap(path).map { .directory(path: $0, excludes: excludes) }
        default: kind = s["command"].flatMap(hook).map { .command($0) }
        }
        if kinds[0] != "directory", let exclude = s["exclude"] { exclude.fail("only a directory source takes excludes") }
        let pre = s["pre"].flatMap(hooks) ?? []
        let post = s["post"].flatMap(hooks) ?? []
        let timeout = s["timeout"]?.parsed(PolicyDuration.parse) ?? PolicySource.defaultTimeout
        var tags: [String: String] = [:]
        if let t = s["tags"], case .mapping(let mapping) = t.node {
            for (k, v) in mapping {
                guard let key = k.string, let value = v.string, !key.isEmpty, !key.contains("=") else {
                    t.fail("tags are plain key: value strings")
                    continue
                }
                tags[key] = value
            }
        } else if let t = s["tags"] {
            _ = t.mapping([])
        }
        guard let name, let kind else { return nil }
        return PolicySource(name: name, kind: kind, pre: pre, post: post, timeout: timeout, tags: tags)
    }

    private static func readSchedule(_ item: ConfigNode, zone: TimeZone, sources: [PolicySource]) -> PolicySchedule? {
        guard let s = item.mapping(["name", "cron", "every", "time_zone", "sources"]) else { return nil }
        let name = s.required("name")?.parsed { text throws(NameError) in try PolicyNames.check(text, what: "schedule name") }
        let scheduleZone = s["time_zone"]?.parsed(zoneNamed) ?? zone
        var trigger: ScheduleTrigger?
        switch (s["cron"], s["every"]) {
        case (let cron?, nil):
            trigger = cron.parsed { text in try CronExpression(text) }.map { .cron($0, scheduleZone) }
        case (nil, let every?):
            if let seconds = every.parsed(PolicyDuration.parse) {
                if seconds < 1 { every.fail("an interval must be at least 1s") } else { trigger = .every(seconds) }
            }
            if let z = s["time_zone"] { z.fail("time_zone applies to cron schedules only") }
        case (.some, .some): item.fail("a schedule has either cron or every, not both")
        case (nil, nil): item.fail("a schedule needs cron or every")
        }
        var names: [String] = []
        if let node = s.required("sources"), let list = node.strings() {
            if list.isEmpty { node.fail("a schedule names at least one source") }
            for source in list {
                if !sources.contains(where: { $0.name == source }) {
                    node.fail("unknown source '\(source)'; this policy defines: \(sources.map(\.name).joined(separator: ", "))")
                } else if !names.contains(source) {
                    names.append(source)
                }
            }
        }
        guard let name, let trigger, !names.isEmpty else { return nil }
        return PolicySchedule(name: name, trigger: trigger, sources: names)
    }

    private static func readRetention(_ node: ConfigNode) -> RetentionPolicy? {
        guard let r = node.mapping(retentionKeys) else { return nil }
        func count(_ key: String) -> Int? { r[key]?.int(in: 1...1_000_000) }
        let policy = RetentionPolicy(keepLast: count("keep_last"), keepHourly: count("keep_hourly"),
                                     keepDaily: count("keep_daily"), keepWeekly: count("keep_weekly"),
                                     keepMonthly: count("keep_monthly"), keepYearly: count("keep_yearly"),
                                     keepWithin: r["keep_within"]?.parsed(PolicyDuration.parse))
        if r.keys.isEmpty {
            node.fail("retention that keeps nothing: give at least one of \(retentionKeys.joined(separator: ", "))")
            return nil
        }
        do { try policy.validate() } catch {
            node.fail("\(error)")
            return nil
        }
        return policy
    }

    /// `pre`/`post`: one command, a shell line or an argv list (chain steps with `&&`).
    private static func hooks(_ node: ConfigNode) -> [HookCommand]? {
        hook(node).map { [$0] }
    }

    /// A command: a shell line (string) or an argv list (first item absolute or a bare name).
    private static func hook(_ node: ConfigNode) -> HookCommand? {
        if case .sequence = node.node {
            guard let argv = node.strings() else { return nil }
            guard let first = argv.first, !first.isEmpty else {
                node.fail("a command list needs at least the program")
                return nil
            }
            return HookCommand(arguments: argv)
        }
        guard let line = node.string() else { return nil }
        guard !line.trimmingCharacters(in: .whitespaces).isEmpty else {
            node.fail("the command is empty")
            return nil
        }
        return .shell(line)
    }

    private static func byteCount(_ node: ConfigNode) -> Int64? {
        node.parsed { text throws(ByteRateError) in
            guard let bytes = ByteSize.parse(text.replacingOccurrences(of: " ", with: "")), bytes > 0 else {
                throw ByteRateError(description: "'\(text)' is not a size such as 500G, 2T or 1073741824")
            }
            return Int64(bytes)
        }
    }
}

/// Why a time zone name was refused.
struct ZoneError: Error, CustomStringConvertible {
    let description: String
}

func zoneNamed(_ text: String) throws(ZoneError) -> TimeZone {
    guard let zone = TimeZone(identifier: text) else {
        throw ZoneError(description: "'\(text)' is not an IANA time zone such as Europe/Berlin or UTC")
    }
    return zone
}

/// Why a rate was refused.
struct ByteRateError: Error, CustomStringConvertible {
    let description: String
}

/// Transfer rates such as `50M/s`, `1G/s` or `100MiB/s` (bytes per second).
enum ByteRate {
    static func parse(_ text: String) throws(ByteRateError) -> Int {
        var body = text.replacingOccurrences(of: " ", with: "")
        if body.hasSuffix("/s") { body.removeLast(2) }
        guard let value = ByteSize.parse(body), value > 0 else {
            throw ByteRateError(description: "'\(text)' is not a rate such as 50M/s or 1G/s")
        }
        return value
    }
}

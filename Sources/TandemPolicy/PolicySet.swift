import Foundation

/// A whole configuration: the site config and every tenant policy in its tenants directory,
/// validated together (a tenant named in two files is an error naming both). The daemon loads
/// one at start and on every SIGHUP; `tandemctl policy validate` loads it the same way.
public struct PolicySet: Sendable, Equatable {
    public let site: SiteConfig
    /// Sorted by tenant name.
    public let tenants: [TenantPolicy]

    public init(site: SiteConfig, tenants: [TenantPolicy]) {
        self.site = site
        self.tenants = tenants.sorted { $0.tenant < $1.tenant }
    }

    public func tenant(_ name: String) -> TenantPolicy? { tenants.first { $0.tenant == name } }

    /// Loads `configPath` and every `*.yaml`/`*.yml` in its tenants directory, reporting every
    /// problem in every file at once.
    public static func load(configPath: String) throws(ConfigErrors) -> PolicySet {
        let path = absolutePath(configPath)
        let site = try SiteConfig.parse(try readText(path), file: path)
        var errors: [ConfigError] = []
        var tenants: [TenantPolicy] = []
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: site.tenantsDirectory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
                .filter { !$0.hasPrefix(".") }
                .sorted()
                .map { (site.tenantsDirectory as NSString).appendingPathComponent($0) }
        } catch {
            throw ConfigErrors([ConfigError(file: path, line: 0, column: 0, field: "tenants_directory",
                                            message: "cannot list \(site.tenantsDirectory): \(reason(error))")])
        }
        for file in files {
            do {
                let policy = try TenantPolicy.parse(try readText(file), file: file)
                if site.role == .near && (policy.key == nil || policy.sources.isEmpty) {
                    errors.append(ConfigError(file: file, line: 1, column: 1, field: policy.key == nil ? "key" : "sources",
                                              message: "a near site needs each tenant's key and at least one source"))
                    continue
                }
                let twins = site.peers.filter { $0.role == .twin }.map(\.name)
                if let home = policy.homeSite, site.role == .near, !([site.siteName] + twins).contains(home) {
                    errors.append(ConfigError(file: file, line: 1, column: 1, field: "home_site",
                                              message: "'\(home)' is neither this site ('\(site.siteName)') nor its twin\(twins.isEmpty ? "" : " ('\(twins.joined(separator: "', '"))')")"))
                    continue
                }
                if let home = policy.homeSite, site.role != .near, !site.peers.isEmpty, !site.peers.contains(where: { $0.name == home }) {
                    errors.append(ConfigError(file: file, line: 1, column: 1, field: "home_site",
                                              message: "'\(home)' is not among this site's peers (\(site.peers.map(\.name).joined(separator: ", ")))"))
                    continue
                }
                if policy.homeSite == nil, site.role == .near, !twins.isEmpty {
                    errors.append(ConfigError(file: file, line: 1, column: 1, field: "home_site",
                                              message: "this site has a twin, so the policy must say which near site is the tenant's home (home_site: \(site.siteName) or \(twins[0]))"))
                    continue
                }
                if let earlier = tenants.first(where: { $0.tenant == policy.tenant }) {
                    errors.append(ConfigError(file: file, line: 1, column: 1, field: "tenant",
                                              message: "tenant '\(policy.tenant)' is already defined in \(earlier.file)"))
                } else {
                    tenants.append(policy)
                }
            } catch {
                errors += error.errors
            }
        }
        guard errors.isEmpty else { throw ConfigErrors(errors) }
        return PolicySet(site: site, tenants: tenants)
    }

    /// Validates one file on its own: a site config (has `site:`) or a tenant policy.
    public static func validateFile(_ path: String) throws(ConfigErrors) -> ValidatedFile {
        let absolute = absolutePath(path)
        let text = try readText(absolute)
        if text.range(of: #"(?m)^site\s*:"#, options: .regularExpression) != nil {
            return .site(try SiteConfig.parse(text, file: absolute))
        }
        return .tenant(try TenantPolicy.parse(text, file: absolute))
    }

    /// What ``validateFile(_:)`` found.
    public enum ValidatedFile: Sendable {
        case site(SiteConfig)
        case tenant(TenantPolicy)
    }

    static func readText(_ path: String) throws(ConfigErrors) -> String {
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let text = String(data: data, encoding: .utf8) else {
                let (line, column) = firstInvalidUTF8(in: [UInt8](data))
                throw ConfigErrors([ConfigError(file: path, line: line, column: column, field: "", message: "not UTF-8 text")])
            }
            return text
        } catch let error as ConfigErrors {
            throw error
        } catch {
            throw ConfigErrors([ConfigError(file: path, line: 0, column: 0, field: "", message: "cannot read: \(reason(error))")])
        }
    }

    /// Line and column (1-based, in bytes) of the first byte that is not valid UTF-8.
    static func firstInvalidUTF8(in bytes: [UInt8]) -> (Int, Int) {
        var line = 1
        var lineStart = 0
        var at = 0
        while at < bytes.count {
            let length = utf8SequenceLength(bytes, at)
            if length == 0 { return (line, at - lineStart + 1) }
            if bytes[at] == 0x0A {
                line += 1
                lineStart = at + 1
            }
            at += length
        }
        return (line, at - lineStart + 1)
    }

    /// The length of the well-formed UTF-8 sequence at `at`, 0 if there is none.
    private static func utf8SequenceLength(_ bytes: [UInt8], _ at: Int) -> Int {
        for length in 1...4 where at + length <= bytes.count {
            if String(validating: bytes[at ..< at + length], as: UTF8.self) != nil { return length }
        }
        return 0
    }

    static func absolutePath(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return (joined as NSString).standardizingPath
    }

    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError || ns.code == 260 { return "no such file" }
        return ns.localizedDescription
    }
}

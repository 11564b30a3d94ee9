import TandemPolicy

/// The configuration the daemon runs: where it was read from and what it says. A reload
/// replaces the policies only when the new files validate and keep the repository and the
/// state directory where they are.
struct DaemonConfiguration: Sendable {
    /// The site configuration file (`/etc/tandem/site.yaml`); tenant policies sit beside it.
    let path: String
    /// The validated site settings and tenant policies in force.
    private(set) var policies: PolicySet

    init(path: String, policies: PolicySet) {
        self.path = path
        self.policies = policies
    }

    /// Reads the files again; on success the new policies are in force and returned.
    mutating func reload() -> Result<PolicySet, DaemonError> {
        let loaded: PolicySet
        do {
            loaded = try PolicySet.load(configPath: path)
        } catch {
            return .failure(.config(error.description))
        }
        guard loaded.site.repository == policies.site.repository, loaded.site.stateDirectory == policies.site.stateDirectory else {
            return .failure(.config("repository and state_directory cannot change on reload; restart tandemd to move them"))
        }
        policies = loaded
        return .success(loaded)
    }
}

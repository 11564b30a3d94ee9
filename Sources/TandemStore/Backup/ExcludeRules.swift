#if canImport(Glibc)
import Glibc
#endif

/// Which entries a tree backup leaves out, restic-style:
/// - a pattern without `/` matches an entry's name at any depth (`*.tmp`, `.cache`);
/// - a pattern with `/` matches the path relative to the source root (`var/log/*`), and a
///   leading `/` anchors it there explicitly;
/// - a trailing `/` matches directories only (`cache/`);
/// - `*`, `?` and `[...]` are shell wildcards (`fnmatch`), `*` not crossing `/`.
/// An excluded directory is left out with everything under it.
public struct ExcludeRules: Sendable, Equatable {
    struct Rule: Sendable, Equatable {
        let pattern: String
        let anchored: Bool
        let directoriesOnly: Bool
    }

    let rules: [Rule]

    /// No exclusions.
    public init() { rules = [] }

    public init(_ patterns: [String]) throws {
        rules = try patterns.map { text in
            var pattern = text
            let directoriesOnly = pattern.hasSuffix("/")
            while pattern.hasSuffix("/") { pattern.removeLast() }
            let anchored = pattern.contains("/")
            while pattern.hasPrefix("/") { pattern.removeFirst() }
            guard !pattern.isEmpty else { throw RepositoryError.invalidExclude(text) }
            return Rule(pattern: pattern, anchored: anchored, directoriesOnly: directoriesOnly)
        }
    }

    /// Whether `relative` (a path below the root, no leading `/`) is left out.
    public func excludes(_ relative: String, isDirectory: Bool) -> Bool {
        guard !rules.isEmpty else { return false }
        let name = relative.split(separator: "/").last.map(String.init) ?? relative
        for rule in rules where !rule.directoriesOnly || isDirectory {
            let subject = rule.anchored ? relative : name
            if fnmatch(rule.pattern, subject, FNM_PATHNAME) == 0 { return true }
        }
        return false
    }
}

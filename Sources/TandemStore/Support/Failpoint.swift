import Foundation
#if TANDEM_FAILPOINTS
import Synchronization
#endif

/// Named failure points in every write step, compiled into debug (test) builds only.
///
/// `TANDEM_FAILPOINT=NAME` (optionally `NAME@K` for the K-th time it is reached, and
/// `NAME=error` to throw instead of dying) makes the process kill itself with SIGKILL at that
/// point, as a power cut or `kill -9` would. Tests sweep every name in ``all``.
public enum Failpoint {
    /// Every failure point, in the order a backup reaches them.
    public static let all = [
        "backend.write.before-rename", "backend.write.after-rename",
        "backup.pack.before-write", "backup.pack.after-write", "backup.index.after-commit",
        "backup.manifest.before-write", "backup.manifest.after-write",
        "prune.repack.after-write", "prune.index.after-commit", "prune.delete.before",
        "forget.delete.before",
    ]

    #if TANDEM_FAILPOINTS
    private static let spec: (name: String, hit: Int, error: Bool)? = {
        guard let text = ProcessInfo.processInfo.environment["TANDEM_FAILPOINT"], !text.isEmpty else { return nil }
        var name = text
        var error = false
        if name.hasSuffix("=error") { name.removeLast(6); error = true }
        var hit = 1
        if let at = name.firstIndex(of: "@"), let k = Int(name[name.index(after: at)...]) {
            hit = k
            name = String(name[..<at])
        }
        return (name, hit, error)
    }()
    private static let hits = Atomic<Int>(0)
    #endif

    /// Marks a failure point; does nothing unless this build and the environment ask for it.
    @inline(__always)
    public static func reach(_ name: String) throws {
        #if TANDEM_FAILPOINTS
        guard let spec, spec.name == name else { return }
        let count = hits.add(1, ordering: .relaxed).newValue
        guard count == spec.hit else { return }
        if spec.error { throw FailpointError(name: name) }
        kill(getpid(), SIGKILL)
        #endif
    }
}

/// The error a failure point set to `=error` throws.
public struct FailpointError: Error, CustomStringConvertible {
    public let name: String
    public var description: String { "injected failure at \(name)" }
}

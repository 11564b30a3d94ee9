import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

extension TenantRepository {
    /// Restores a tree snapshot below `root` (which must not exist or be an empty directory):
    /// folders and symlinks first, then file contents in order, then owners, modes, times and
    /// xattrs, folders last and deepest first so writing into them still works.
    ///
    /// Nothing is written unless the whole tree passes ``TreeLayout`` (no absolute or `..`
    /// paths, no duplicates, nothing below a symlink or file), and every entry is reached
    /// through descriptors opened without following links (``TargetDirectory``): a restore
    /// never creates or changes anything outside `root`, whatever the manifest says.
    func restoreTree(_ manifest: SnapshotManifest, to root: String, options: RestoreOptions) async throws -> (Int64, Int, [String]) {
        var entries = manifest.tree ?? []
        if let problem = TreeLayout.firstProblem(entries) {
            throw RepositoryError.damaged("the snapshot's tree is unsafe to restore: \(problem)")
        }
        if let only = options.only?.trimmingCharacters(in: CharacterSet(charactersIn: "/")), !only.isEmpty {
            entries = entries.filter { $0.path == only || $0.path.hasPrefix(only + "/") || (only.hasPrefix($0.path + "/") && $0.type == .directory) || $0.path.isEmpty }
            guard entries.contains(where: { $0.path == only }) else { throw RepositoryError.snapshotNotFound("path \(only)") }
        }
        let files = entries.filter { $0.type == .file && !($0.chunks?.isEmpty ?? true) }
        // Planned (the index read) before the target is touched: a failure here leaves nothing.
        let planned = try makePlan(files.enumerated().map { RestorePlan.Segment(output: $0.offset, list: $0.element.chunks!) })
        let target = try TargetDirectory(root)
        for entry in entries where !entry.path.isEmpty {
            switch entry.type {
            case .directory:
                try target.makeDirectory(entry.path)
            case .symlink:
                try target.makeSymlink(entry.path, target: entry.symlinkTarget ?? "")
            case .file:
                if entry.chunks?.isEmpty ?? true { close(try target.createFile(entry.path)) }
            }
        }
        let paths = files.map(\.path)
        let sink = OutputSink(sparse: true, open: { output in try target.createFile(paths[output]) }, close: { _, fd in close(fd) })
        try await runRestore(planned, sink: sink, options: options)
        let asRoot = geteuid() == 0
        var warnings: [String] = []
        for entry in entries.reversed() {
            warnings += try target.applyMetadata(entry, owners: asRoot)
        }
        let bytes = files.reduce(Int64(0)) { $0 + Int64($1.chunks!.totalLength) }
        return (bytes, entries.filter { $0.type == .file }.count, warnings)
    }
}

import ArgumentParser
import Foundation
import TandemCore
import TandemStore
#if canImport(Glibc)
import Glibc
#endif

/// `tandemctl backup --repo DIR --tenant T SOURCE` (offline), or
/// `tandemctl backup now --tenant T [--source S]` (asks tandemd to run the policy's sources).
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up a file, block device, directory, or stdin ('-') as a new snapshot.")

    @OptionGroup var location: RepositoryChoice
    @OptionGroup var tenant: TenantOptions
    @Argument(help: "An image file, block device, directory, or '-' for stdin; 'now' (without --repo) asks tandemd.") var source: String
    @Option(name: .customLong("source"), help: "With 'backup now': only this source of the tenant's policy.") var policySource: String?
    @Flag(name: .customLong("no-wait"), help: "With 'backup now': return once the jobs are queued.") var noWait = false
    @Option(name: .customLong("tag"), help: ArgumentHelp("Tag the snapshot (repeatable).", valueName: "K=V")) var tags: [String] = []
    @Option(help: "Host name recorded in the snapshot.") var hostname: String?
    @Flag(help: "Keep extended attributes of directory trees.") var xattrs = false
    @Option(help: "Chunks sealed in parallel (default: two per core).") var workers: Int?
    @Flag(help: "Print the result as one JSON document.") var json = false

    func validate() throws {
        if location.offline == nil && source != "now" {
            throw ValidationError("without --repo DIR, backup asks tandemd: use 'backup now --tenant T [--source S]'")
        }
        if location.offline != nil && policySource != nil { throw ValidationError("--source goes with 'backup now' (the daemon's policy)") }
        for tag in tags where !tag.contains("=") || tag.hasPrefix("=") {
            throw ValidationError("--tag '\(tag)' is not K=V")
        }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must lie within 1...256") }
    }

    /// `backup --json`: the fields scripts rely on.
    struct Output: Encodable {
        let snapshotId: String
        let bytesRead: Int64
        let bytesNew: Int64
        let bytesStored: Int64
        let chunks: Int
        let chunksNew: Int
        let files: Int
        let filesUnchanged: Int
        let seconds: Double
        /// Entries that could not be read: the snapshot is incomplete (exit 14).
        let entriesUnreadable: Int
        let incomplete: Bool
        let warnings: [String]
    }

    func run() async throws {
        try await Failure.guarded {
            guard let repository = location.offline else {
                return try await DaemonBackup(client: location.daemon.client(), tenant: tenant.tenant, source: policySource,
                                              wait: !noWait, json: json).run()
            }
            let kind = try BackupSource.classify(source)
            let repo = try await tenant.open(repository)
            var options = BackupOptions()
            options.tags = Dictionary(tags.map { tag in
                let parts = tag.split(separator: "=", maxSplits: 1)
                return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
            }, uniquingKeysWith: { _, last in last })
            if let hostname { options.hostname = hostname }
            options.includeXattrs = xattrs
            if let workers { options.workers = workers }
            var total: Int?
            if case .stream(let path) = kind { total = Self.size(path) }
            let configured = options
            let result = try await ProgressMeter.run(label: "backup", total: total) { meter in
                var options = configured
                options.progress = { meter.add($0) }
                return try await repo.backup(kind, options: options, now: Date())
            }
            let s = result.summary
            if json {
                try JSONOutput.print(Output(snapshotId: result.snapshotID, bytesRead: s.bytesRead, bytesNew: s.bytesNew,
                                            bytesStored: s.bytesStored, chunks: s.chunks, chunksNew: s.chunksNew, files: s.files,
                                            filesUnchanged: s.filesUnchanged, seconds: s.seconds,
                                            entriesUnreadable: s.entriesUnreadable ?? 0, incomplete: (s.entriesUnreadable ?? 0) > 0,
                                            warnings: result.warnings))
            } else {
                for warning in result.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
                print("snapshot \(result.snapshotID.prefix(12)) saved")
                print("  read \(Human.bytes(s.bytesRead)) in \(String(format: "%.2f", s.seconds)) s (\(Human.rate(s.bytesRead, s.seconds)))"
                      + (s.files > 0 ? ", \(s.files) files (\(s.filesUnchanged) unchanged)" : ""))
                print("  new \(Human.bytes(s.bytesNew)) in \(s.chunksNew) of \(s.chunks) chunks, stored \(Human.bytes(s.bytesStored))")
            }
            if let unreadable = s.entriesUnreadable, unreadable > 0 {
                // Committed, but not whole: scripts must notice.
                FileHandle.standardError.write(Data("tandemctl: snapshot \(result.snapshotID.prefix(12)) is incomplete: \(unreadable) entr\(unreadable == 1 ? "y" : "ies") could not be read (see the warnings)\n".utf8))
                throw ExitCode(14)
            }
        }
    }

    /// Size of a file or block device, for the progress bar's ETA.
    static func size(_ path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let end = lseek(fd, 0, SEEK_END)
        return end > 0 ? Int(end) : nil
    }
}

import Foundation
import TandemCodecs
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// What to back up.
public enum BackupSource: Sendable, Equatable {
    /// An image file or block device, by path.
    case stream(path: String)
    /// Standard input (recorded as `-`).
    case standardInput
    /// A directory tree.
    case tree(path: String)
    /// An open descriptor (a command's output pipe), recorded under `name`. The caller owns
    /// and closes it.
    case descriptor(Int32, name: String)

    /// Classifies a command-line SOURCE: `-`, a directory, or anything else readable as a stream.
    public static func classify(_ argument: String) throws -> BackupSource {
        if argument == "-" { return .standardInput }
        let path = argument.hasPrefix("/") ? argument : FileManager.default.currentDirectoryPath + "/" + argument
        var info = stat()
        guard stat(path, &info) == 0 else { throw RepositoryError.unreadable(argument, code: errno) }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .tree(path: (path as NSString).standardizingPath)
        case S_IFREG, S_IFBLK, S_IFCHR, S_IFIFO: return .stream(path: (path as NSString).standardizingPath)
        default: throw RepositoryError.sourceUnreadable(argument, "not a file, block device or directory")
        }
    }
}

/// How a backup runs.
public struct BackupOptions: Sendable {
    public var tags: [String: String] = [:]
    public var hostname: String = ProcessInfo.processInfo.hostName
    /// Chunks sealed in parallel; the default is two per core, so one can wait on the feed,
    /// the dedup check or a write while the other computes.
    public var workers = 2 * ProcessInfo.processInfo.activeProcessorCount
    /// Target pack size in bytes.
    public var packSize = 16 << 20
    public var includeXattrs = false
    /// Patterns left out of a tree backup (see ``ExcludeRules``).
    public var excludes: [String] = []
    /// Runs after every chunk is stored and before the manifest is written; throwing here
    /// (a dump command that exited non-zero, say) leaves no snapshot.
    public var beforeCommit: @Sendable () async throws -> Void = {}
    /// References per chunk-list blob (and the most kept inline); lowered only by tests.
    public var chunkListLimit = ChunkList.inlineLimit
    /// Called with each new pack's name and path once it is durable here, one pack at a time;
    /// the next pack commits only after it returns, so a slow consumer (the twin mirror)
    /// holds the pipeline back instead of piling up packs.
    public var afterPack: (@Sendable (_ name: String, _ path: String) async -> Void)?
    /// Called with the number of bytes just read (from several tasks; keep it cheap).
    public var progress: @Sendable (Int) -> Void = { _ in }

    public init() {}
}

/// The outcome of a backup, as `backup --json` prints it.
public struct BackupResult: Sendable, Codable {
    public let snapshotID: String
    public let summary: BackupSummary
    /// Entries left out of a tree backup (vanished, unreadable, special files).
    public let warnings: [String]
}

extension TenantRepository {
    /// Backs up `source` and commits a snapshot. Write order: packs (durable), then their index
    /// rows, then the manifest (durable: this is the commit), then the catalog row. An interrupted
    /// backup leaves no snapshot; its packs are adopted and reused by the next one.
    public func backup(_ source: BackupSource, options: BackupOptions, now: Date, clock: @Sendable () -> Date = Date.init) async throws -> BackupResult {
        let started = clock()
        return try await holdingLock(exclusive: false) {
            try await runBackup(source, options: options, now: now, started: started, clock: clock)
        }
    }

    private func runBackup(_ source: BackupSource, options: BackupOptions, now: Date, started: Date,
                           clock: @Sendable () -> Date) async throws -> BackupResult {
        try await reconcile()
        let sink = try PackSink(tenant: self, known: KnownChunks(stored: try index.allBlobIDs()), packSize: options.packSize, afterPack: options.afterPack)
        var summary = BackupSummary()
        var warnings: [String] = []
        var manifest: SnapshotManifest
        switch source {
        case .stream, .standardInput, .descriptor:
            let input: FeedInput
            let name: String
            switch source {
            case .stream(let path):
                input = .path(path)
                name = path
            case .descriptor(let fd, let label):
                input = .descriptor(fd, name: label)
                name = label
            default:
                input = .descriptor(0, name: "standard input")
                name = "-"
            }
            let feed = ChunkFeed(inputs: [input], chunker: Chunker(settings.chunker, gear: keys.gear),
                                 skipUnreadable: false, progress: options.progress)
            let lists = try await runPipeline(feed: feed, sink: sink, workers: options.workers, listLimit: options.chunkListLimit,
                                              groupSize: options.packSize)
            let chunks = lists[0] ?? ChunkList()
            summary.bytesRead = Int64(chunks.totalLength)
            summary.chunks = chunks.count
            manifest = SnapshotManifest(tenant: name == "-" ? self.name : self.name, time: now, hostname: options.hostname,
                                        source: name, kind: .stream, tags: options.tags, stream: chunks)
        case .tree(let root):
            var scanner = TreeScanner(root: root, includeXattrs: options.includeXattrs,
                                      excludes: try ExcludeRules(options.excludes))
            var entries = try scanner.scan()
            warnings += scanner.warnings
            // The parent's entries are looked up by position, not copied: a tree of 20,000 files
            // copied into a dictionary of entries cost about 10 MiB at the backup's peak.
            var parentID: String?
            var parentTree: [TreeEntry] = []
            if let parent = try await parentSnapshot(source: root, warnings: &warnings) {
                parentID = parent.id
                parentTree = parent.manifest.tree ?? []
            }
            var previous: [String: Int] = [:]
            previous.reserveCapacity(parentTree.count)
            for (position, entry) in parentTree.enumerated() where entry.type == .file && previous[entry.path] == nil {
                previous[entry.path] = position
            }
            var inputs: [FeedInput] = []
            var inputEntry: [Int] = []
            for (position, entry) in entries.enumerated() where entry.type == .file {
                if let at = previous[entry.path], case let old = parentTree[at],
                   old.size == entry.size, old.mtimeNanoseconds == entry.mtimeNanoseconds,
                   old.ctimeNanoseconds == entry.ctimeNanoseconds, old.inode == entry.inode, let chunks = old.chunks,
                   await allKnown(chunks, sink) {
                    entries[position].chunks = chunks
                    summary.filesUnchanged += 1
                } else if entry.size == 0 {
                    entries[position].chunks = ChunkList()
                } else {
                    inputs.append(.path(root + "/" + entry.path))
                    inputEntry.append(position)
                }
            }
            // Unchanged files now share the parent's chunk lists; the rest of it is not needed.
            previous = [:]
            parentTree = []
            let feed = ChunkFeed(inputs: inputs, chunker: Chunker(settings.chunker, gear: keys.gear),
                                 skipUnreadable: true, progress: options.progress)
            let lists = try await runPipeline(feed: feed, sink: sink, workers: options.workers, listLimit: options.chunkListLimit,
                                              groupSize: options.packSize)
            let skipped = await feed.skipped
            var dropped = Set<Int>()
            for (input, position) in inputEntry.enumerated() {
                if let why = skipped[input] {
                    warnings.append("\(FileNameBytes.display(root + "/" + entries[position].path)): \(why)")
                    dropped.insert(position)
                    continue
                }
                let chunks = lists[input] ?? ChunkList()
                entries[position].chunks = chunks
                entries[position].size = Int64(chunks.totalLength)
            }
            if !dropped.isEmpty {
                entries = entries.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
            }
            summary.files = entries.count { $0.type == .file }
            let unreadable = scanner.unreadable + dropped.count
            summary.entriesUnreadable = unreadable > 0 ? unreadable : nil
            summary.bytesRead = Int64((await feed.bytesRead).reduce(0, +))
            summary.chunks = entries.reduce(0) { $0 + ($1.chunks?.count ?? 0) }
            manifest = SnapshotManifest(tenant: name, time: now, hostname: options.hostname, source: root, kind: .tree,
                                        tags: options.tags, parent: parentID, tree: entries)
        }
        try await sink.flush()
        try await options.beforeCommit()
        try Task.checkCancellation()
        summary.bytesNew = await sink.bytesNew
        summary.chunksNew = await sink.chunksNew
        summary.seconds = clock().timeIntervalSince(started)
        manifest.summary = summary
        let sealed = try ManifestCodec(keys: keys, tenant: name).seal(manifest)
        let id = Hex.encode(Hasher256.hash(.sha256, sealed))
        try Failpoint.reach("backup.manifest.before-write")
        try await backend.write(snapshotPath(id), sealed, overwrite: false)
        try Failpoint.reach("backup.manifest.after-write")
        // The snapshot is committed: whatever happens to its catalog row (a full disk), the
        // backup succeeded, and the next reconcile adds the row from the manifest.
        do { try index.addSnapshot(record(id: id, manifest)) } catch {
            warnings.append("snapshot \(id.prefix(12)) is committed but not yet in the catalog (\(error)); it is added the next time the tenant is opened")
        }
        summary.bytesStored = await sink.bytesStored + Int64(sealed.count)
        summary.seconds = clock().timeIntervalSince(started)
        return BackupResult(snapshotID: id, summary: summary, warnings: warnings)
    }

    private func allKnown(_ chunks: ChunkList, _ sink: PackSink) async -> Bool {
        // An indirect list's blobs were stored only after every chunk they name.
        for ref in chunks.refs where !(await sink.contains(ref.id)) { return false }
        for list in chunks.lists where !(await sink.contains(list.id)) { return false }
        return true
    }

    /// The newest tree snapshot of the same source, whose unchanged files need not be read again.
    /// One that cannot be read or authenticated is no parent: the backup says so in `warnings`
    /// and reads every file (a damaged manifest must not stop every later backup of the source).
    private func parentSnapshot(source: String, warnings: inout [String]) async throws -> (id: String, manifest: SnapshotManifest)? {
        guard let record = try index.snapshots().last(where: { $0.kind == .tree && $0.source == source }) else { return nil }
        do {
            return (record.id, try await loadManifest(record.id))
        } catch let error as CancellationError {
            throw error
        } catch {
            warnings.append("previous snapshot \(record.id.prefix(12)) of \(source) is unreadable, every file is read again: \(error)")
            return nil
        }
    }

    /// Runs `workers` tasks that pull chunks from the feed, name them, and seal and store the new
    /// ones; a collector puts the references back in order. Returns each input's chunk list.
    /// Groups close at `groupSize` (the pack size) when that is under 4 MiB.
    private func runPipeline(feed: ChunkFeed, sink: PackSink, workers: Int, listLimit: Int,
                             groupSize: Int) async throws -> [Int: ChunkList] {
        let keys = self.keys
        let compression = settings.compression
        let maximum = settings.chunker.maximumChunkSize
        let collector = try RefCollector(sink: sink, keys: keys, compression: compression, limit: listLimit)
        // zstd: compressible new chunks are sealed in groups, from a builder per core; the rest
        // one by one.
        var pool: GroupBuilderPool?
        if case .zstd(let level) = compression {
            pool = GroupBuilderPool(count: min(max(1, workers), ProcessInfo.processInfo.activeProcessorCount),
                                    level: level, closingLength: groupSize)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, workers) {
                group.addTask { [pool] in
                    let sealer = try BlobSealer(keys: keys, compression: compression)
                    var zeros = ZeroChunkIDs()
                    while true {
                        // A batch per trip: up to 8 chunks or 1 MiB, so the read-ahead stays small
                        // even with 4 MiB fixed-size chunks.
                        let batch = try await feed.next(upTo: 8, bytes: 1 << 20)
                        if batch.isEmpty { break }
                        try Task.checkCancellation()
                        // The ID and the checksum verify-before-store compares against are taken
                        // together, before anything else touches the chunk.
                        let prints = batch.map { chunk in
                            precondition(chunk.bytes.count <= maximum)
                            return chunk.bytes.withUnsafeBytes { raw in
                                zeros.id(of: raw, sealer: sealer).map { ChunkFingerprint(id: $0, checksum: Checksum64(of: raw)) }
                                    ?? sealer.fingerprint(of: raw)
                            }
                        }
                        let ids = prints.map(\.id)
                        try await collector.accept(zip(batch, ids).map {
                            (sequence: $0.sequence, input: $0.input, ref: ChunkRef(id: $1, length: $0.bytes.count))
                        })
                        let fresh = await sink.claim(zip(batch, ids).map { (id: $1, rawLength: $0.bytes.count) })
                        var grouped: [Int] = []
                        for (index, chunk) in batch.enumerated() where fresh[index] {
                            let groupable = pool != nil && chunk.bytes.count <= ChunkGroupBuilder.largestMember
                                && !chunk.bytes.withUnsafeBytes { CompressibilityEstimate.looksIncompressible($0) }
                            if groupable {
                                grouped.append(index)
                            } else {
                                try await sink.add(try chunk.bytes.withUnsafeBytes { try sealer.seal($0, fingerprint: prints[index]) })
                            }
                        }
                        guard let pool, !grouped.isEmpty else { continue }
                        for full in try await Self.addToGroup(grouped.map { (bytes: batch[$0].bytes, fingerprint: prints[$0]) }, pool: pool, sealer: sealer) {
                            try await sink.add(full)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        if let pool {
            let sealer = try BlobSealer(keys: keys, compression: compression)
            for lease in await pool.unfinished() { try await sink.add(try lease.value.seal(with: sealer)) }
        }
        return try await collector.finish()
    }

    /// Compresses `chunks` into a builder borrowed from `pool` (given back also on failure),
    /// sealing the group whenever it fills; returns the sealed groups for the pack sink.
    private static func addToGroup(_ chunks: [(bytes: ArraySlice<UInt8>, fingerprint: ChunkFingerprint)], pool: GroupBuilderPool,
                                   sealer: BlobSealer) async throws -> [SealedGroup] {
        let lease = await pool.take()
        var sealed: [SealedGroup] = []
        do {
            for chunk in chunks {
                try chunk.bytes.withUnsafeBytes { try lease.value.append($0, fingerprint: chunk.fingerprint) }
                if lease.value.isFull { sealed.append(try lease.value.seal(with: sealer)) }
            }
        } catch {
            await pool.giveBack(lease)
            throw error
        }
        await pool.giveBack(lease)
        return sealed
    }
}

import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// Where a restore writes.
public enum RestoreTarget: Sendable, Equatable {
    /// A file or block device (stream snapshots), or a new or empty directory (tree snapshots).
    case path(String)
    /// Standard output (stream snapshots only).
    case standardOutput
}

/// How a restore runs.
public struct RestoreOptions: Sendable {
    /// Tasks fetching and opening chunks: two per core, so one can wait for a read while the
    /// other decrypts.
    public var workers = 2 * ProcessInfo.processInfo.activeProcessorCount
    /// Replace an existing regular file (stream snapshots).
    public var overwrite = false
    /// Restore only this path of a tree snapshot (a file, or a directory with everything below it).
    public var only: String?
    /// Write a stream snapshot's file or device around the page cache (O_DIRECT, see
    /// `AlignedRegionWriter`) where the target allows it; false writes through the cache, for
    /// an image that is read right after.
    public var bypassPageCache = true
    /// How long to wait for a forget or prune of the tenant to finish (they hold the lock
    /// exclusively) before giving up with "locked".
    public var lockWait: Duration = .seconds(600)
    /// Re-hash every chunk to its ID with the suite's hash, as `check --read-data` does. Off by
    /// default: a chunk sealed on its own is authenticated by the AEAD, whose associated data
    /// holds its ID, and was proven at store time to decode to the plaintext its ID was taken
    /// of; chunks in group frames are always re-hashed, since the frame's associated data does
    /// not name them and the index that locates them in it is an unauthenticated cache.
    public var verifyIDs = false
    /// Called with the number of bytes just written.
    public var progress: @Sendable (Int) -> Void = { _ in }

    public init() {}
}

/// The outcome of a restore, as `restore --json` prints it.
public struct RestoreResult: Sendable, Codable {
    public let snapshotID: String
    public let bytesRestored: Int64
    public let files: Int
    public let seconds: Double
    /// Metadata that could not be applied (owners when not root, xattrs the filesystem refuses).
    public let warnings: [String]
}

extension TenantRepository {
    /// Restores a snapshot. Every chunk is authenticated, decompressed and re-hashed before it is
    /// written, so a restore either reproduces the source byte for byte or fails naming the blob.
    /// Holds the tenant lock shared, so that no prune deletes a pack it still has to read (and
    /// waits up to `options.lockWait` for a running forget or prune to finish).
    public func restore(_ reference: String, to target: RestoreTarget, options: RestoreOptions,
                        clock: @Sendable () -> Date = Date.init) async throws -> RestoreResult {
        try await holdingLock(exclusive: false, waiting: options.lockWait) {
            try await restoreLocked(reference, to: target, options: options, clock: clock)
        }
    }

    private func restoreLocked(_ reference: String, to target: RestoreTarget, options: RestoreOptions,
                               clock: @Sendable () -> Date) async throws -> RestoreResult {
        let started = clock()
        try await reconcile()
        let id = try await resolveSnapshot(reference)
        let manifest = try await loadManifest(id)
        switch (manifest.kind, target) {
        case (.stream, _):
            let bytes = try await restoreStream(manifest, to: target, options: options)
            return RestoreResult(snapshotID: id, bytesRestored: bytes, files: 1, seconds: clock().timeIntervalSince(started), warnings: [])
        case (.tree, .standardOutput):
            throw RepositoryError.notAStream(id)
        case (.tree, .path(let root)):
            let (bytes, files, warnings) = try await restoreTree(manifest, to: root, options: options)
            return RestoreResult(snapshotID: id, bytesRestored: bytes, files: files, seconds: clock().timeIntervalSince(started),
                                 warnings: warnings)
        }
    }

    private func restoreStream(_ manifest: SnapshotManifest, to target: RestoreTarget, options: RestoreOptions) async throws -> Int64 {
        let list = manifest.stream ?? ChunkList()
        let segments = [RestorePlan.Segment(output: 0, list: list)]
        switch target {
        case .standardOutput:
            let sink = OutputSink(sparse: false, open: { _ in 1 }, close: { _, _ in })
            try await runRestore(try makePlan(segments), sink: sink, options: options)
        case .path(let path):
            var info = stat()
            let exists = stat(path, &info) == 0
            let isDevice = exists && (info.st_mode & S_IFMT == S_IFBLK || info.st_mode & S_IFMT == S_IFCHR)
            if exists && !isDevice && !options.overwrite { throw RepositoryError.targetExists(path) }
            // Only a regular file may be replaced: anything else would be found only at the
            // final rename, after the whole image was written beside it.
            if exists && !isDevice && info.st_mode & S_IFMT != S_IFREG { throw RepositoryError.targetNotAFile(path) }
            // A regular file is written beside the target and renamed over it only when complete.
            let writePath = isDevice ? path : path + ".tandem-partial"
            let flags = isDevice ? O_WRONLY | O_CLOEXEC : O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
            let fd = Glibc.open(writePath, flags, 0o600)
            guard fd >= 0 else { throw RepositoryError.targetUnwritable(path, String(cString: strerror(errno))) }
            do {
                defer { close(fd) }
                let total = list.totalLength
                if !isDevice, ftruncate(fd, off_t(total)) != 0 {
                    throw RepositoryError.targetUnwritable(path, String(cString: strerror(errno)))
                }
                // Around the page cache where the target allows O_DIRECT (AlignedRegionWriter).
                let direct = options.bypassPageCache ? AlignedRegionWriter.openDirect(writePath) : nil
                defer { if let direct { close(direct) } }
                let regions = direct.map { AlignedRegionWriter(directFD: $0, bufferedFD: fd, total: total, sparse: !isDevice, path: path) }
                let writer = PositionalWriter(fd: fd, sparse: !isDevice, path: path, regions: regions)
                try await runPositionalRestore(segments: segments, writer: writer, options: options)
                try writer.finish()
                guard fsync(fd) == 0 else { throw RepositoryError.targetUnwritable(path, String(cString: strerror(errno))) }
            } catch {
                if !isDevice { unlink(writePath) }
                throw error
            }
            if !isDevice {
                guard rename(writePath, path) == 0 else {
                    let failure = RepositoryError.targetUnwritable(path, String(cString: strerror(errno)))
                    unlink(writePath)
                    throw failure
                }
            }
        }
        return Int64(list.totalLength)
    }

    /// Restores one file or device: workers fetch, verify and pwrite chunks at their offsets.
    func runPositionalRestore(segments: [RestorePlan.Segment], writer: PositionalWriter, options: RestoreOptions) async throws {
        let (plan, locations) = try makePlan(segments)
        let readers = GroupReaderCache()
        let keys = self.keys
        let compression = settings.compression
        let verifyIDs = options.verifyIDs
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, options.workers) {
                group.addTask {
                    let sealer = try BlobSealer(keys: keys, compression: compression)
                    while case let run = try await plan.nextRun(), !run.isEmpty {
                        try await self.fetch(run, locations: locations, sealer: sealer, readers: readers, verifyIDs: verifyIDs) { job, payload in
                            try await writer.write(payload, at: job.offset)
                            options.progress(payload.count)
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// The plan for `segments`, with the index's blob locations.
    func makePlan(_ segments: [RestorePlan.Segment]) throws -> (RestorePlan, [ChunkID: BlobLocation]) {
        let locations = try index.allLocations()
        var likelyZero = [settings.chunker.maximumChunkSize]
        if case .fixed(let size) = settings.chunker { likelyZero.append(size) }
        return (try RestorePlan(segments: segments, tenant: self, locations: locations, likelyZeroLengths: likelyZero), locations)
    }

    /// Reads, authenticates and decompresses a run's chunks, re-hashing those in group frames
    /// (and, with `verifyIDs`, all) to their IDs (zero chunks need nothing), then hands each to
    /// `body` in order. A run's grouped chunks all lie in one frame
    /// (RestorePlan.nextRun): they are read first, from the frame's borrowed reader, which goes
    /// back before its chunks are re-hashed, the chunks stored on their own are opened and `body`
    /// writes anything, so the next run from the frame (on another worker) waits only for
    /// decompression. With `keepPassed` above 0, it returns up to that many bytes of the
    /// members of the frame its reader decompressed on the way to the run's chunks (placed by
    /// the frame's member table), with their plaintexts, for a cache of random reads to keep.
    @discardableResult
    func fetch(_ run: [RestoreJob], locations: [ChunkID: BlobLocation], sealer: BlobSealer, readers: GroupReaderCache,
               verifyIDs: Bool = false, keepPassed: Int = 0,
               _ body: (RestoreJob, RestorePayload) async throws -> Void) async throws -> [(id: ChunkID, plain: [UInt8])] {
        var passed: [UnverifiedMember] = [], passedBytes = 0
        var payloads = [RestorePayload?](repeating: nil, count: run.count)
        var places: [BlobLocation?] = []
        places.reserveCapacity(run.count)
        for job in run {
            guard !job.zero else {
                places.append(nil)
                continue
            }
            guard let location = locations[job.id] else {
                throw RepositoryError.damaged("chunk \(job.id.hex.prefix(16)) is referenced but in no pack")
            }
            places.append(location)
        }
        if let first = places.first(where: { $0?.inner != nil }), let first {
            let key = GroupReaderCache.Key(pack: first.pack, offset: first.offset)
            var reader = await readers.borrow(key)
            var decompressed: [(index: Int, member: UnverifiedMember)] = []
            do {
                for (index, job) in run.enumerated() {
                    guard let location = places[index], let inner = location.inner else { continue }
                    precondition(location.pack == key.pack && location.offset == key.offset, "a restore run spans two group frames")
                    do {
                        if reader == nil || reader!.value.position > inner {
                            reader = nil
                            let sealed = try await backend.read(packPath(location.pack), offset: location.offset, length: location.length)
                            reader = Lent(try sealed.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, for: job.id) })
                        }
                        if keepPassed > passedBytes {
                            let members = try reader!.value.unverifiedMembers(before: inner, budget: keepPassed - passedBytes)
                            passedBytes += members.reduce(0) { $0 + $1.count }
                            passed += members
                        }
                        decompressed.append((index, try reader!.value.unverifiedMember(job.id, inner: inner, length: location.rawLength)))
                    } catch {
                        reader = nil
                        throw await noteDamage(error, at: location, id: job.id, locations: locations, reason: "restore")
                    }
                }
            } catch {
                await readers.giveBack(key, nil)
                throw error
            }
            await readers.giveBack(key, reader)
            // Re-hashed only now: the next run from this frame decompresses meanwhile.
            for (index, member) in decompressed {
                let plain: [UInt8]
                do { plain = try member.authenticated(by: sealer, rehash: verifyIDs) } catch {
                    throw await noteDamage(error, at: places[index]!, id: run[index].id, locations: locations, reason: "restore")
                }
                // A length that disagrees with a genuine chunk is the manifest's fault, not the blob's.
                payloads[index] = try checked(plain, run[index])
            }
        }
        var kept: [(id: ChunkID, plain: [UInt8])] = []
        for member in passed {
            do { kept.append((member.id, try member.authenticated(by: sealer, rehash: verifyIDs))) } catch {
                throw await noteDamage(error, at: places.first { $0?.inner != nil }!!, id: member.id, locations: locations, reason: "restore")
            }
        }
        for (index, job) in run.enumerated() {
            if let payload = payloads[index] {
                try await body(job, payload)
            } else if let location = places[index] {
                let plain: [UInt8]
                do {
                    let sealed = try await backend.read(packPath(location.pack), offset: location.offset, length: location.length)
                    let limit = max(location.rawLength, job.length)
                    plain = try sealed.withUnsafeBytes {
                        verifyIDs ? try sealer.open($0, id: job.id, maximumLength: limit)
                            : try sealer.openAuthenticated($0, id: job.id, maximumLength: limit)
                    }
                } catch {
                    throw await noteDamage(error, at: location, id: job.id, locations: locations, reason: "restore")
                }
                try await body(job, try checked(plain, job))
            } else {
                try await body(job, .zeros(job.length))
            }
        }
        return kept
    }

    private func checked(_ plain: [UInt8], _ job: RestoreJob) throws -> RestorePayload {
        guard plain.count == job.length else {
            throw RepositoryError.damaged("chunk \(job.id.hex.prefix(16)) has \(plain.count) bytes, manifest says \(job.length)")
        }
        return .bytes(plain)
    }

    /// Runs `options.workers` tasks that fetch, open and verify blobs; the writer puts them in order.
    func runRestore(_ planned: (RestorePlan, [ChunkID: BlobLocation]), sink: OutputSink, options: RestoreOptions) async throws {
        let (plan, locations) = planned
        let writer = OrderedWriter(plan: plan, window: 8 * max(1, options.workers), sink: sink, progress: options.progress)
        let readers = GroupReaderCache()
        let keys = self.keys
        let compression = settings.compression
        let verifyIDs = options.verifyIDs
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, options.workers) {
                group.addTask {
                    do {
                        let sealer = try BlobSealer(keys: keys, compression: compression)
                        while case let run = try await writer.next(), !run.isEmpty {
                            try await self.fetch(run, locations: locations, sealer: sealer, readers: readers, verifyIDs: verifyIDs) {
                                try await writer.deliver($0, $1)
                            }
                        }
                    } catch {
                        await writer.abort()
                        throw error
                    }
                }
            }
            try await group.waitForAll()
        }
        try await writer.finish()
    }
}

import Foundation
import TandemCodecs
import TandemCore

/// How `prune` runs.
public struct PruneOptions: Sendable {
    /// A pack whose dead bytes reach this fraction is rewritten with only its live blobs.
    public var repackThreshold = 0.25
    /// Target size of rewritten packs.
    public var packSize = 16 << 20
    /// Report what would happen without changing anything.
    public var dryRun = false
    /// Temporary files of interrupted writes older than this are removed (a live write is
    /// far younger: a pack takes well under a second).
    public var incompleteWriteAge: TimeInterval = 3600
    /// The time prune takes as now.
    public var now = Date()

    public init() {}
}

/// What `prune` found and did.
public struct PruneReport: Sendable, Codable {
    public var dryRun = false
    public var packsBefore = 0
    public var packsDeleted = 0
    public var packsRepacked = 0
    public var packsWritten = 0
    public var blobsLive = 0
    public var blobsRemoved = 0
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
    /// Leftovers of writes interrupted by a crash, removed.
    public var incompleteWritesRemoved = 0
    /// The packs deleted (wholly dead, or rewritten into new packs), for a twin to follow.
    /// Not part of the JSON report.
    public var retiredPacks: [String] = []

    enum CodingKeys: String, CodingKey {
        case dryRun, packsBefore, packsDeleted, packsRepacked, packsWritten, blobsLive, blobsRemoved, bytesBefore, bytesAfter
        case incompleteWritesRemoved
    }
}

extension TenantRepository {
    /// Mark and sweep: every chunk any snapshot references is live; packs holding no live blob
    /// are deleted, packs mostly dead are rewritten with their live blobs (copied sealed, verified
    /// first). Order: new packs durable, then indexed, then old packs unindexed, then deleted, so
    /// a crash at any step loses no referenced blob. Holds the tenant lock exclusively.
    public func prune(options: PruneOptions = PruneOptions()) async throws -> PruneReport {
        try await holdingLock(exclusive: true) { try await runPrune(options: options) }
    }

    private func runPrune(options: PruneOptions) async throws -> PruneReport {
        var report = PruneReport(dryRun: options.dryRun)
        let reconciled = try await reconcile()
        if let bad = reconciled.unreadable.first(where: { $0.hasPrefix("snapshot") }) {
            throw RepositoryError.damaged("\(bad) cannot be read, so what it references is unknown; prune refuses to run")
        }
        var live = Set<ChunkID>()
        let locations = try index.allLocations()
        let reader = try BlobSealer(keys: keys, compression: settings.compression)
        for snapshot in try index.snapshots() {
            try await referencedBlobs(of: try await loadManifest(snapshot.id), sealer: reader, locations: locations) {
                live.insert($0)
            }
        }
        // A pack with blobs found damaged is rewritten whatever its dead share: the good copy
        // drops the bad bytes, and `check` is clean again once every snapshot is whole.
        let damaged = Set(try await damagedBlobs().keys)
        var deletable: [String] = []
        var repack: [(name: String, frames: [(held: [PackEntry], kept: [PackEntry])], liveBytes: Int)] = []
        for (name, size) in try index.packs().sorted(by: { $0.key < $1.key }) {
            report.packsBefore += 1
            report.bytesBefore += Int64(size)
            let entries = try await packEntries(name).entries
            // A blob is live here only if it is referenced and the index points at this copy.
            let frames = PackEntry.byFrame(entries).map { held in
                (held: held, kept: held.filter { live.contains($0.id) && locations[$0.id]?.pack == name })
            }
            let kept = frames.reduce(0) { $0 + $1.kept.count }
            report.blobsLive += kept
            report.blobsRemoved += entries.count - kept
            // A group frame counts as live in proportion to its live members' plaintext.
            let liveBytes = frames.reduce(0) { total, frame in
                let raw = frame.held.reduce(0) { $0 + $1.rawLength }
                return total + frame.held[0].length * frame.kept.reduce(0) { $0 + $1.rawLength } / max(raw, 1)
            }
            if kept == 0 {
                deletable.append(name)
            } else if Double(size - liveBytes) >= options.repackThreshold * Double(size) || damaged.contains(name) {
                repack.append((name, frames.filter { !$0.kept.isEmpty }, liveBytes))
            } else {
                report.bytesAfter += Int64(size)
            }
        }
        report.packsDeleted = deletable.count
        report.packsRepacked = repack.count
        if !options.dryRun {
            report.incompleteWritesRemoved = try await backend.removeIncompleteWrites(
                layout.folder, olderThan: options.now.addingTimeInterval(-options.incompleteWriteAge))
        }
        guard !options.dryRun else {
            report.bytesAfter += repack.reduce(Int64(0)) { $0 + Int64($1.liveBytes) }
            return report
        }
        let cipher = try keys.suite.makeCipher(key: keys.dataKey)
        let sealer = try BlobSealer(keys: keys, compression: settings.compression)
        var builder = PackBuilder(targetSize: options.packSize)
        func writeBuilt() async throws {
            guard !builder.isEmpty else { return }
            let pack = try builder.finish(cipher: cipher)
            try await backend.write(packPath(pack.name), pack.bytes, overwrite: true)
            try Failpoint.reach("prune.repack.after-write")
            try index.repointBlobs(toPack: pack.name, size: pack.bytes.count, entries: pack.entries)
            report.packsWritten += 1
            report.bytesAfter += Int64(pack.bytes.count)
        }
        // Live chunks of partly dead group frames are compressed into new groups.
        var level = 3
        if case .zstd(let tenantLevel) = settings.compression { level = tenantLevel }
        let regroup = ChunkGroupBuilder(level: level, closingLength: options.packSize)
        for (name, frames) in repack.map({ ($0.name, $0.frames) }) {
            let bytes = try await backend.read(packPath(name))
            for (held, kept) in frames {
                let first = held[0]
                let sealed = bytes[first.offset ..< first.offset + first.length]
                if first.inner == nil {
                    _ = try sealed.withUnsafeBytes { try sealer.open($0, id: first.id, type: first.type, maximumLength: first.rawLength) }
                    builder.append(sealed: sealed, entries: held)
                } else {
                    let reader = try sealed.withUnsafeBytes { try ChunkGroupReader($0, sealer: sealer, type: first.type, for: first.id) }
                    if kept.count == held.count {
                        for member in held { _ = try reader.member(member.id, inner: member.inner!, length: member.rawLength, sealer: sealer) }
                        try reader.finish()
                        builder.append(sealed: sealed, entries: held)
                    } else {
                        for member in kept {
                            let plaintext = try reader.member(member.id, inner: member.inner!, length: member.rawLength, sealer: sealer)
                            try plaintext.withUnsafeBytes { try regroup.append($0, id: member.id) }
                            if regroup.isFull { builder.append(try regroup.seal(with: sealer)) }
                        }
                    }
                }
                if builder.isFull { try await writeBuilt() }
            }
        }
        if !regroup.isEmpty { builder.append(try regroup.seal(with: sealer)) }
        try await writeBuilt()
        let retired = deletable + repack.map(\.name)
        report.retiredPacks = retired
        try index.removePacks(retired)
        try Failpoint.reach("prune.index.after-commit")
        for name in retired {
            try Failpoint.reach("prune.delete.before")
            try await backend.delete(packPath(name))
        }
        let stored = Set(try await storedPackNames())
        for name in damaged where !stored.contains(name) { try await backend.delete(damagePath(name)) }
        return report
    }
}

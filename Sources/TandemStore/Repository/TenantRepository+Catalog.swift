import Foundation
import TandemCodecs
import TandemCore

extension TenantRepository {
    /// Names of the packs on the backend.
    func storedPackNames() async throws -> [String] {
        try await backend.list(layout.packs).map { String($0.split(separator: "/").last!) }.filter { $0.count == 64 }
    }

    /// IDs of the snapshot manifests on the backend.
    func storedSnapshotIDs() async throws -> [String] {
        try await backend.list(layout.snapshots).map { String($0.split(separator: "/").last!) }.filter { $0.count == 64 }
    }

    /// Reads and opens a pack's trailer (two ranged reads; the blobs are not read).
    public func packEntries(_ name: String) async throws -> (size: Int, entries: [PackEntry]) {
        let path = packPath(name)
        let size = try await backend.size(path)
        guard size >= PackFormat.headerLength + PackFormat.footerLength else { throw FormatError.truncated("pack \(name.prefix(12))") }
        let footer = try await backend.read(path, offset: size - PackFormat.footerLength, length: PackFormat.footerLength)
        let trailerLength = try PackFormat.trailerLength(footer: footer, packSize: size)
        let trailer = try await backend.read(path, offset: size - PackFormat.footerLength - trailerLength, length: trailerLength)
        let cipher = try keys.suite.makeCipher(key: keys.dataKey)
        return (size, try PackFormat.entries(sealedTrailer: trailer, packSize: size, cipher: cipher))
    }

    /// Reads a manifest, checks its content address, and opens it with the manifest key.
    public func loadManifest(_ id: String) async throws -> SnapshotManifest {
        let bytes: [UInt8]
        do { bytes = try await backend.read(snapshotPath(id)) } catch BackendError.notFound {
            throw RepositoryError.snapshotNotFound(id)
        }
        guard Hex.encode(Hasher256.hash(.sha256, bytes)) == id else {
            throw FormatError.corrupt("snapshot \(id.prefix(12))", "its bytes do not hash to its name")
        }
        return try ManifestCodec(keys: keys, tenant: name).open(bytes)
    }

    /// What reconciling the index with the backend changed.
    public struct ReconcileReport: Sendable, Equatable {
        public var packsAdopted = 0
        public var packsForgotten = 0
        public var snapshotsAdded = 0
        public var snapshotsForgotten = 0
        /// Objects that could not be read or authenticated; `check` reports them in detail.
        public var unreadable: [String] = []
    }

    /// Brings the index and catalog in line with the backend: packs written by an interrupted
    /// backup are adopted (so their blobs are reused), vanished packs and snapshots forgotten.
    @discardableResult
    public func reconcile() async throws -> ReconcileReport {
        var report = ReconcileReport()
        let stored = Set(try await storedPackNames())
        let indexed = try index.packs()
        let adopt = stored.subtracting(indexed.keys).sorted()
        // Blobs found damaged stay out of the index, whatever the trailers say.
        let damaged = adopt.isEmpty ? [:] : try await damagedBlobs()
        for name in adopt {
            do {
                let (size, entries) = try await packEntries(name)
                let bad = damaged[name] ?? []
                try index.addPack(name: name, size: size, entries: bad.isEmpty ? entries : entries.filter { !bad.contains($0.id) })
                report.packsAdopted += 1
            } catch {
                report.unreadable.append("pack \(name)")
            }
        }
        let gone = Set(indexed.keys).subtracting(stored)
        if !gone.isEmpty {
            try index.removePacks(gone.sorted())
            report.packsForgotten = gone.count
        }
        let snapshots = Set(try await storedSnapshotIDs())
        let catalogued = Set(try index.snapshots().map(\.id))
        for id in snapshots.subtracting(catalogued).sorted() {
            do {
                try index.addSnapshot(record(id: id, try await loadManifest(id)))
                report.snapshotsAdded += 1
            } catch {
                report.unreadable.append("snapshot \(id)")
            }
        }
        for id in catalogued.subtracting(snapshots) {
            try index.removeSnapshot(id)
            report.snapshotsForgotten += 1
        }
        return report
    }

    /// Throws away the index and catalog and rebuilds both from packs and manifests.
    public func rebuildIndex() async throws -> ReconcileReport {
        try index.removePacks(Array(try index.packs().keys))
        for snapshot in try index.snapshots() { try index.removeSnapshot(snapshot.id) }
        return try await reconcile()
    }

    func record(id: String, _ manifest: SnapshotManifest) -> SnapshotRecord {
        let size = manifest.stream.map { Int64($0.totalLength) } ?? (manifest.tree ?? []).reduce(0) { $0 + $1.size }
        return SnapshotRecord(id: id, time: manifest.time, kind: manifest.kind, source: manifest.source,
                              hostname: manifest.hostname, tags: manifest.tags, parent: manifest.parent,
                              size: size, files: manifest.tree?.filter { $0.type == .file }.count ?? 0,
                              unreadable: manifest.summary.entriesUnreadable ?? 0)
    }

    /// The tenant's snapshots, oldest first.
    public func snapshots() async throws -> [SnapshotRecord] {
        try await reconcile()
        return try index.snapshots()
    }

    /// Resolves `latest`, a full ID, or a unique ID prefix.
    public func resolveSnapshot(_ reference: String) async throws -> String {
        let all = try await snapshots()
        if reference == "latest" {
            guard let newest = all.last else { throw RepositoryError.snapshotNotFound(reference) }
            return newest.id
        }
        let matches = all.filter { $0.id.hasPrefix(reference.lowercased()) }
        guard !reference.isEmpty, !matches.isEmpty else { throw RepositoryError.snapshotNotFound(reference) }
        guard matches.count == 1 else { throw RepositoryError.ambiguousSnapshot(reference, candidates: matches.map(\.id)) }
        return matches[0].id
    }
}

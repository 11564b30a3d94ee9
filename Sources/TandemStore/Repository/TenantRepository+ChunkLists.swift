import TandemCodecs
import TandemCore

extension TenantRepository {
    /// Reads, authenticates and decodes one chunk-list blob, checking it holds what its
    /// reference says.
    func loadChunkList(_ list: ChunkListRef, sealer: BlobSealer, locations: [ChunkID: BlobLocation]? = nil) async throws -> [ChunkRef] {
        guard let location = try locations?[list.id] ?? index.location(of: list.id) else {
            throw RepositoryError.damaged("chunk list \(list.id.hex.prefix(16)) is referenced but in no pack")
        }
        let sealed = try await backend.read(packPath(location.pack), offset: location.offset, length: location.length)
        let plain = try sealed.withUnsafeBytes {
            try sealer.open($0, id: list.id, type: .chunkList, maximumLength: ChunkList.inlineLimit * 36)
        }
        let refs = try ChunkListCodec.decode(plain, what: "chunk list \(list.id.hex.prefix(16))")
        guard refs.count == list.count, refs.reduce(0, { $0 + $1.length }) == list.length else {
            throw RepositoryError.damaged("chunk list \(list.id.hex.prefix(16)) does not hold what its snapshot says")
        }
        return refs
    }

    /// Calls `body` with every chunk of `list` in order, loading its chunk-list blobs one at a time.
    func forEachChunk(of list: ChunkList, sealer: BlobSealer, locations: [ChunkID: BlobLocation]? = nil,
                      _ body: (ChunkRef) throws -> Void) async throws {
        for ref in list.refs { try body(ref) }
        for blob in list.lists {
            for ref in try await loadChunkList(blob, sealer: sealer, locations: locations) { try body(ref) }
        }
    }

    /// Every blob a snapshot needs: its data chunks and its chunk-list blobs.
    func referencedBlobs(of manifest: SnapshotManifest, sealer: BlobSealer, locations: [ChunkID: BlobLocation]? = nil,
                         _ body: (ChunkID) throws -> Void) async throws {
        for list in manifest.chunkLists {
            for blob in list.lists { try body(blob.id) }
            try await forEachChunk(of: list, sealer: sealer, locations: locations) { try body($0.id) }
        }
    }
}

extension TenantRepository {
    /// The packs a snapshot's data lives in (chunks and chunk-list blobs), by name: what a
    /// keyless site needs to know to keep a snapshot whole and to prune what no kept
    /// snapshot uses.
    public func packsReferenced(by id: String) async throws -> Set<String> {
        try await packsReferenced(by: id, locations: try index.allLocations(),
                                  sealer: try BlobSealer(keys: keys, compression: settings.compression))
    }

    /// ``packsReferenced(by:)`` for every snapshot in the catalog, reading the index once.
    public func packsReferencedBySnapshot() async throws -> [String: Set<String>] {
        let locations = try index.allLocations()
        let sealer = try BlobSealer(keys: keys, compression: settings.compression)
        var out: [String: Set<String>] = [:]
        for snapshot in try index.snapshots() {
            out[snapshot.id] = try await packsReferenced(by: snapshot.id, locations: locations, sealer: sealer)
        }
        return out
    }

    private func packsReferenced(by id: String, locations: [ChunkID: BlobLocation], sealer: BlobSealer) async throws -> Set<String> {
        let manifest = try await loadManifest(id)
        var packs = Set<String>()
        var missing = 0
        try await referencedBlobs(of: manifest, sealer: sealer, locations: locations) { blob in
            if let location = locations[blob] { packs.insert(location.pack) } else { missing += 1 }
        }
        guard missing == 0 else {
            throw RepositoryError.damaged("snapshot \(id.prefix(12)) references \(missing) chunk(s) stored in no pack")
        }
        return packs
    }
}

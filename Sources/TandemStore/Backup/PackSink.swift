import TandemCodecs
import TandemCore

/// The last stage of the backup pipeline: deduplicates by chunk ID and collects sealed blobs
/// into packs; a full pack is made durable, then indexed (that order: an indexed blob is always
/// on disk). Memory: the pack being built plus at most one being written; a worker that fills
/// a pack while the previous one is still being written waits (back-pressure).
actor PackSink {
    private let tenant: TenantRepository
    private let cipher: any AEADCipher
    private var builder: PackBuilder
    private var known: Set<ChunkID>
    private(set) var bytesNew: Int64 = 0
    private(set) var chunksNew = 0
    private(set) var bytesStored: Int64 = 0
    private(set) var packsWritten = 0
    private var writing = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(tenant: TenantRepository, known: Set<ChunkID>, packSize: Int) throws {
        self.tenant = tenant
        self.known = known
        cipher = try tenant.keys.suite.makeCipher(key: tenant.keys.dataKey)
        builder = PackBuilder(targetSize: packSize)
    }

    /// True the first time an ID is seen (the caller then seals and adds the chunk).
    /// `isData` false (chunk lists) keeps the blob out of the data counters.
    func claim(_ id: ChunkID, rawLength: Int, isData: Bool = true) -> Bool {
        guard known.insert(id).inserted else { return false }
        if isData {
            bytesNew += Int64(rawLength)
            chunksNew += 1
        }
        return true
    }

    /// Whether the ID is stored or being stored.
    func contains(_ id: ChunkID) -> Bool { known.contains(id) }

    /// Appends a sealed blob; waits while the pack is full and the previous one is still being
    /// written, so memory holds at most one pack being built and one being written.
    func add(_ blob: SealedBlob) async throws {
        while builder.isFull && writing { await waitForWriter() }
        builder.append(blob)
        if builder.isFull { try await flush() }
    }

    private func waitForWriter() async {
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Writes the pack being built, if any, and indexes it; one pack is written at a time.
    func flush() async throws {
        while writing { await waitForWriter() }
        guard !builder.isEmpty else { return }
        writing = true
        defer {
            writing = false
            let resumed = waiting
            waiting.removeAll()
            for waiter in resumed { waiter.resume() }
        }
        try Failpoint.reach("backup.pack.before-write")
        let pack = try builder.finish(cipher: cipher)
        // Content-addressed: an existing pack of this name has these very bytes.
        try await tenant.backend.write(tenant.packPath(pack.name), pack.bytes, overwrite: true)
        try Failpoint.reach("backup.pack.after-write")
        try tenant.index.addPack(name: pack.name, size: pack.bytes.count, entries: pack.entries)
        try Failpoint.reach("backup.index.after-commit")
        bytesStored += Int64(pack.bytes.count)
        packsWritten += 1
    }
}

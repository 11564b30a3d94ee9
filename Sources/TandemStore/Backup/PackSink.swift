import TandemCodecs
import TandemCore

/// The last stage of the backup pipeline: deduplicates by chunk ID and streams sealed blobs into
/// packs. Each blob is written at its offset as soon as it arrives (``BackendUpload``), so no
/// pack is ever held in memory; the pack's SHA-256 is updated in offset order on this actor. A
/// full pack is committed (trailer, fsync, rename: durable), then indexed — an indexed blob is
/// always on disk. One pack commits at a time.
actor PackSink {
    /// The pack being filled.
    private struct OpenPack {
        let number: Int
        let upload: any BackendUpload
        let hasher: Hasher256
        var entries: [PackEntry] = []
        var size = 0
    }

    private let tenant: TenantRepository
    private let cipher: any AEADCipher
    private let targetSize: Int
    private var current: OpenPack?
    private var opened = 0
    private var writesInFlight: [Int: Int] = [:]
    private var known: KnownChunks
    private(set) var bytesNew: Int64 = 0
    private(set) var chunksNew = 0
    private(set) var bytesStored: Int64 = 0
    private(set) var packsWritten = 0
    private var committing = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private let afterPack: (@Sendable (String, String) async -> Void)?

    init(tenant: TenantRepository, known: KnownChunks, packSize: Int,
         afterPack: (@Sendable (String, String) async -> Void)? = nil) throws {
        self.afterPack = afterPack
        self.tenant = tenant
        self.known = known
        cipher = try tenant.keys.suite.makeCipher(key: tenant.keys.dataKey)
        targetSize = packSize
    }

    /// True the first time an ID is seen (the caller then seals and adds the chunk).
    /// `isData` false (chunk lists) keeps the blob out of the data counters.
    func claim(_ id: ChunkID, rawLength: Int, isData: Bool = true) -> Bool {
        guard known.insert(id) else { return false }
        if isData {
            bytesNew += Int64(rawLength)
            chunksNew += 1
        }
        return true
    }

    /// ``claim(_:rawLength:isData:)`` for a batch of data chunks, in order.
    func claim(_ batch: [(id: ChunkID, rawLength: Int)]) -> [Bool] {
        batch.map { claim($0.id, rawLength: $0.rawLength) }
    }

    /// Whether the ID is stored or being stored.
    func contains(_ id: ChunkID) -> Bool { known.contains(id) }

    /// Writes a sealed blob into the current pack; commits the pack once it is full.
    func add(_ blob: SealedBlob) async throws {
        try await add(blob.bytes) { offset in
            [PackEntry(id: blob.id, type: blob.type, codec: blob.codec, offset: offset, length: blob.bytes.count, rawLength: blob.rawLength)]
        }
    }

    /// Writes a sealed group frame into the current pack, one entry per member.
    func add(_ group: SealedGroup) async throws {
        try await add(group.bytes) { offset in
            group.members.map {
                PackEntry(id: $0.id, type: .data, codec: .zstd, offset: offset, length: group.bytes.count,
                          rawLength: $0.rawLength, inner: $0.inner)
            }
        }
    }

    /// Writes sealed bytes at the current pack's end, recording the entries they hold. All
    /// bookkeeping happens before the first suspension, so interleaved calls stay consistent.
    private func add(_ bytes: [UInt8], entries: (_ offset: Int) -> [PackEntry]) async throws {
        var writes: [Reservation] = []
        if current == nil {
            opened += 1
            current = OpenPack(number: opened, upload: try tenant.backend.makeUpload(in: tenant.layout.packs),
                               hasher: Hasher256(.sha256))
            writes.append(reserve(PackFormat.header()))
        }
        current!.entries.append(contentsOf: entries(current!.size))
        writes.append(reserve(bytes))
        var full: OpenPack?
        if current!.size >= targetSize {
            full = current
            current = nil
        }
        for write in writes { try await perform(write) }
        // Committing waits for the previous commit: the worker that filled a pack waits, the
        // others go on filling the next one. Nothing of a pack is held in memory meanwhile.
        if let full { try await commit(full) }
    }

    /// Commits the pack being filled, if any.
    func flush() async throws {
        if let pack = current {
            current = nil
            try await commit(pack)
        }
        while committing { await wait() }
    }

    /// A write claimed at an offset of a pack, to be performed.
    private struct Reservation {
        let upload: any BackendUpload
        let pack: Int
        let offset: Int
        let bytes: [UInt8]
    }

    /// Claims the next bytes of the current pack: the offset and hash advance here, in order.
    private func reserve(_ bytes: [UInt8]) -> Reservation {
        let offset = current!.size
        current!.size += bytes.count
        current!.hasher.update(bytes)
        writesInFlight[current!.number, default: 0] += 1
        return Reservation(upload: current!.upload, pack: current!.number, offset: offset, bytes: bytes)
    }

    /// Writes reserved bytes (writes of one pack may finish in any order).
    private func perform(_ write: Reservation) async throws {
        defer {
            writesInFlight[write.pack]! -= 1
            wakeAll()
        }
        try await write.upload.write(write.bytes, at: write.offset)
    }

    private func commit(_ pack: OpenPack) async throws {
        while committing { await wait() }
        committing = true
        defer {
            committing = false
            wakeAll()
        }
        while writesInFlight[pack.number, default: 0] > 0 { await wait() }
        writesInFlight[pack.number] = nil
        do {
            try Failpoint.reach("backup.pack.before-write")
            let trailer = try PackFormat.trailer(entries: pack.entries, cipher: cipher)
            try await pack.upload.write(trailer, at: pack.size)
            pack.hasher.update(trailer)
            let name = Hex.encode(pack.hasher.finalize())
            // Content-addressed: an existing pack of this name has these very bytes.
            try await pack.upload.commit(as: tenant.packPath(name))
            try Failpoint.reach("backup.pack.after-write")
            let size = pack.size + trailer.count
            // SQLite commits with an fsync: off the cooperative threads, which seal chunks.
            let index = tenant.index, entries = pack.entries
            try await BlockingIO.run { try index.addPack(name: name, size: size, entries: entries) }
            try Failpoint.reach("backup.index.after-commit")
            bytesStored += Int64(size)
            packsWritten += 1
            await afterPack?(name, tenant.packPath(name))
        } catch {
            await pack.upload.abort()
            throw error
        }
    }

    private func wait() async {
        await withCheckedContinuation { waiting.append($0) }
    }

    private func wakeAll() {
        let resumed = waiting
        waiting.removeAll()
        for waiter in resumed { waiter.resume() }
    }
}

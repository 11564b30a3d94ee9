import TandemCodecs
import TandemCore

/// Puts the chunk references workers produce (out of order) back in stream order and groups
/// them per input. An input with more than ``ChunkList/inlineLimit`` chunks has its list sealed
/// into chunk-list blobs as it goes, so memory holds at most one list's worth per input in
/// progress, whatever the source's size.
///
/// All ordering state changes happen without suspending; only storing finished list blobs
/// awaits, after the state is consistent, so calls that interleave there see no half-done work.
actor RefCollector {
    private let sink: PackSink
    private let sealer: BlobSealer
    private let limit: Int
    private var waiting: [Int: (input: Int, ref: ChunkRef)] = [:]
    private var nextSequence = 0
    private var currentInput = -1
    private var refs: [ChunkRef] = []
    private var lists: [ChunkListRef] = []
    private var finished: [Int: ChunkList] = [:]

    init(sink: PackSink, keys: TenantKeys, compression: Compression, limit: Int = ChunkList.inlineLimit) throws {
        self.sink = sink
        sealer = try BlobSealer(keys: keys, compression: compression)
        self.limit = limit
    }

    /// Accepts chunk `sequence` (numbered in stream order across all inputs).
    func accept(sequence: Int, input: Int, ref: ChunkRef) async throws {
        try await accept([(sequence, input, ref)])
    }

    /// Accepts a batch of chunks, each numbered in stream order across all inputs.
    func accept(_ batch: [(sequence: Int, input: Int, ref: ChunkRef)]) async throws {
        for item in batch { waiting[item.sequence] = (item.input, item.ref) }
        var sealed: [(ChunkFingerprint, [UInt8])] = []
        while let item = waiting.removeValue(forKey: nextSequence) {
            nextSequence += 1
            if item.input != currentInput {
                finishInput(into: &sealed)
                currentInput = item.input
            }
            refs.append(item.ref)
            if refs.count == limit { sealList(into: &sealed) }
        }
        try await store(sealed)
    }

    /// Every input's chunk list (inputs without chunks are absent).
    func finish() async throws -> [Int: ChunkList] {
        precondition(waiting.isEmpty, "chunks are missing from the stream")
        var sealed: [(ChunkFingerprint, [UInt8])] = []
        finishInput(into: &sealed)
        currentInput = -1
        try await store(sealed)
        return finished
    }

    private func finishInput(into sealed: inout [(ChunkFingerprint, [UInt8])]) {
        guard currentInput >= 0 else { return }
        if lists.isEmpty {
            finished[currentInput] = ChunkList(refs)
        } else {
            if !refs.isEmpty { sealList(into: &sealed) }
            finished[currentInput] = ChunkList(lists: lists)
        }
        refs = []
        lists = []
    }

    /// Turns the pending references into one chunk-list blob's plaintext and records its reference.
    private func sealList(into sealed: inout [(ChunkFingerprint, [UInt8])]) {
        let bytes = ChunkListCodec.encode(refs)
        let fingerprint = bytes.withUnsafeBytes { sealer.fingerprint(of: $0) }
        lists.append(ChunkListRef(id: fingerprint.id, count: refs.count, length: refs.reduce(0) { $0 + $1.length }))
        refs = []
        sealed.append((fingerprint, bytes))
    }

    private func store(_ sealed: [(ChunkFingerprint, [UInt8])]) async throws {
        for (fingerprint, bytes) in sealed where await sink.claim(fingerprint.id, rawLength: bytes.count, isData: false) {
            try await sink.add(try bytes.withUnsafeBytes { try sealer.seal($0, fingerprint: fingerprint, type: .chunkList) })
        }
    }
}

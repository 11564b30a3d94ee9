import CTandemSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Restores a stream snapshot around the page cache: chunks (at any offsets, from every worker
/// at once) are gathered into aligned 1 MiB regions, and each region, once every byte of it has
/// arrived, is written with O_DIRECT in one piece. Only the file's unaligned last bytes go
/// through the cache (`bufferedFD`).
///
/// Why: in a VM whose host takes freed memory back, page cache for a 2 GiB restore means 2 GiB of
/// pages that may each cost a host fault; a restore spent 2.5 to 5.6 s of system time on that
/// here, more than everything else together. A restored image is seldom read at once, so the
/// cache gained nothing either. A region left all zeros in a sparse target is not written (a hole).
/// Region buffers are reused, never freed until the end: as heap blocks freed and taken again
/// they fragmented the heap (peak RSS 190-600 MiB for the 2 GiB image, against 66 before).
/// 1 MiB, not 4: workers restore runs of up to 1 MiB each, so a region waits for several of
/// them; with 4 MiB regions four workers kept seven buffers (28 MiB) alive.
final class AlignedRegionWriter: Sendable {
    static let regionSize = 1 << 20
    static let alignment = DirectWrite.alignment

    /// A region's memory (1 MiB, page-aligned), handed between workers under the mutex.
    private struct Buffer: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }

    /// A region being gathered. Owned by the map under the mutex; its bytes are written by the
    /// workers outside it, each to its own range.
    private struct Region: Sendable {
        let buffer: Buffer
        let length: Int
        var filled = 0
        var hasData = false
        var zeroRanges: [Range<Int>] = []
    }

    private let directFD: Int32
    private let bufferedFD: Int32
    private let total: Int
    private let sparse: Bool
    private let path: String
    /// Regions being gathered, by index, and buffers free for the next ones.
    private struct State {
        var regions: [Int: Region] = [:]
        var spare: [Buffer] = []
    }

    private let state = Mutex(State())

    /// `directFD` is the target opened with O_DIRECT, `bufferedFD` the same target without it.
    init(directFD: Int32, bufferedFD: Int32, total: Int, sparse: Bool, path: String) {
        self.directFD = directFD
        self.bufferedFD = bufferedFD
        self.total = total
        self.sparse = sparse
        self.path = path
    }

    deinit {
        state.withLock { state in
            for region in state.regions.values { free(region.buffer.pointer) }
            for buffer in state.spare { free(buffer.pointer) }
            state = State()
        }
    }

    /// Opens `path` a second time with O_DIRECT, or nil where the filesystem refuses it.
    static func openDirect(_ path: String) -> Int32? {
        let fd = open(path, O_WRONLY | O_CLOEXEC | tandem_o_direct())
        return fd >= 0 ? fd : nil
    }

    /// Places a chunk; when it completes a region, writes the region on the blocking-I/O queue
    /// (a synchronous O_DIRECT write of 1 MiB would otherwise hold one of the few threads that
    /// decrypt and decompress: on 2 cores a restore kept them busy 1.37 cores of 2).
    func write(_ payload: RestorePayload, at offset: Int) async throws {
        let end = offset + payload.count
        guard offset >= 0, end <= total else {
            throw RepositoryError.damaged("a chunk at offset \(offset) runs past the snapshot's \(total) bytes")
        }
        var cursor = offset
        while cursor < end {
            let index = cursor / Self.regionSize
            let start = index * Self.regionSize
            let piece = min(end, start + Self.regionSize) - cursor
            let buffer = try regionBuffer(index)
            if case .bytes(let bytes) = payload {
                bytes.withUnsafeBytes { raw in
                    (buffer + (cursor - start)).copyMemory(from: raw.baseAddress! + (cursor - offset), byteCount: piece)
                }
            }
            let zeros = payload.isZeros
            let range = (cursor - start)..<(cursor - start + piece)
            let complete: Region? = state.withLock { state in
                state.regions[index]!.filled += piece
                if zeros { state.regions[index]!.zeroRanges.append(range) } else { state.regions[index]!.hasData = true }
                return state.regions[index]!.filled == state.regions[index]!.length ? state.regions.removeValue(forKey: index) : nil
            }
            if let complete {
                defer { state.withLock { $0.spare.append(complete.buffer) } }
                try await BlockingIO.run { try self.flush(complete, at: start) }
            }
            cursor += piece
        }
    }

    /// Fails unless every region was written (each byte of the snapshot delivered once).
    func finish() throws {
        let left = state.withLock { $0.regions.count }
        guard left == 0 else { throw RepositoryError.damaged("restore ended with \(left) regions of the target incomplete") }
    }

    private func regionBuffer(_ index: Int) throws -> UnsafeMutableRawPointer {
        try state.withLock { state in
            if let region = state.regions[index] { return region.buffer.pointer }
            var buffer = state.spare.popLast()
            if buffer == nil {
                var memory: UnsafeMutableRawPointer?
                guard posix_memalign(&memory, Self.alignment, Self.regionSize) == 0, let memory else {
                    throw RepositoryError.targetUnwritable(path, "out of memory for a 1 MiB write buffer")
                }
                buffer = Buffer(pointer: memory)
            }
            state.regions[index] = Region(buffer: buffer!, length: min(Self.regionSize, total - index * Self.regionSize))
            return buffer!.pointer
        }
    }

    private func flush(_ region: Region, at start: Int) throws {
        if !region.hasData && sparse { return }
        let base = region.buffer.pointer
        for range in region.zeroRanges { (base + range.lowerBound).initializeMemory(as: UInt8.self, repeating: 0, count: range.count) }
        // Blocks wholly inside zero chunks stay holes in a sparse target; the rest is written in runs.
        var from = 0
        for hole in sparse ? Self.holes(in: region.zeroRanges) : [] {
            try write(base, from..<hole.lowerBound, regionStart: start)
            from = hole.upperBound
        }
        try write(base, from..<region.length, regionStart: start)
    }

    /// The aligned blocks wholly inside `zeroRanges` (offsets in a region), merged, in order.
    static func holes(in zeroRanges: [Range<Int>]) -> [Range<Int>] {
        var merged: [Range<Int>] = []
        for range in zeroRanges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged.compactMap { range in
            let low = (range.lowerBound + alignment - 1) & ~(alignment - 1)
            let high = range.upperBound & ~(alignment - 1)
            return high > low ? low..<high : nil
        }
    }

    /// Writes `run` of a region (starting at an aligned offset): its aligned part with O_DIRECT,
    /// the rest (the file's last bytes, or all of it if the device refuses) through the cache.
    private func write(_ base: UnsafeMutableRawPointer, _ run: Range<Int>, regionStart: Int) throws {
        guard !run.isEmpty else { return }
        var done = run.lowerBound
        do {
            done += try DirectWrite.writeChunks(directFD, total: run.count & ~(Self.alignment - 1), at: regionStart + run.lowerBound,
                                                path: path) { offset, _ in UnsafeRawPointer(base + run.lowerBound + offset) }
            try LocalBackend.writeAll(bufferedFD, UnsafeRawBufferPointer(start: base + done, count: run.upperBound - done),
                                      at: regionStart + done, path: path)
        } catch {
            throw RepositoryError.targetUnwritable(path, "\(error)")
        }
    }
}

extension RestorePayload {
    var isZeros: Bool {
        if case .zeros = self { return true }
        return false
    }
}

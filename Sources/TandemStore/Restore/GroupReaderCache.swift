import TandemCore

/// Keeps open group readers between a restore's runs. A backup's workers each fill their own
/// group, so a restored stream alternates between a few frames; a worker that continues a frame
/// takes over its reader where the last run left it instead of decrypting and decompressing the
/// frame's beginning again. A reader is lent to one worker at a time; others wanting the same
/// frame wait for it. At most `capacity` idle readers are kept (about 2.5 MiB each).
actor GroupReaderCache {
    struct Key: Hashable {
        let pack: String
        let offset: Int
    }

    private enum Slot {
        case idle(Lent<ChunkGroupReader>, used: Int)
        case lent(waiters: [CheckedContinuation<Lent<ChunkGroupReader>?, Never>])
    }

    private var slots: [Key: Slot] = [:]
    private var clock = 0
    private let capacity: Int

    init(capacity: Int = 4) { self.capacity = capacity }

    /// The frame's reader, or nil when the caller must open the frame itself (and return its
    /// reader with ``giveBack(_:_:)`` either way).
    func borrow(_ key: Key) async -> Lent<ChunkGroupReader>? {
        switch slots[key] {
        case .idle(let reader, _):
            slots[key] = .lent(waiters: [])
            return reader
        case .lent(var waiters):
            return await withCheckedContinuation { continuation in
                waiters.append(continuation)
                slots[key] = .lent(waiters: waiters)
            }
        case nil:
            slots[key] = .lent(waiters: [])
            return nil
        }
    }

    /// Returns a borrowed frame's reader (nil if it failed or was not opened).
    func giveBack(_ key: Key, _ reader: Lent<ChunkGroupReader>?) {
        guard case .lent(var waiters) = slots[key] else { return }
        if !waiters.isEmpty {
            let next = waiters.removeFirst()
            slots[key] = .lent(waiters: waiters)
            next.resume(returning: reader)
            return
        }
        guard let reader, reader.value.position < reader.value.rawLength else {
            slots[key] = nil
            return
        }
        clock += 1
        slots[key] = .idle(reader, used: clock)
        let idle = slots.compactMap { key, slot -> (Key, Int)? in
            if case .idle(_, let used) = slot { return (key, used) }
            return nil
        }
        if idle.count > capacity, let oldest = idle.min(by: { $0.1 < $1.1 }) { slots[oldest.0] = nil }
    }
}

import TandemCore

/// The group builders of one backup, fewer than its workers: a builder holds a zstd context
/// (about 2 MiB at level 3) and its frame so far (up to the compressed size of 4 MiB), so one
/// per core rather than one per worker. A worker borrows a builder only to compress a batch's
/// new chunks into it (and to seal the group when it is full), then gives it back; a worker
/// that finds none idle waits. Consecutive batches thereby land in few frames, which restore
/// reads one after the other.
actor GroupBuilderPool {
    private var idle: [Lent<ChunkGroupBuilder>]
    private var waiters: [CheckedContinuation<Lent<ChunkGroupBuilder>, Never>] = []

    init(count: Int, level: Int, closingLength: Int) {
        idle = (0..<max(1, count)).map { _ in Lent(ChunkGroupBuilder(level: level, closingLength: closingLength)) }
    }

    /// An idle builder, waiting for one if all are lent. Every builder taken must be given back
    /// (``giveBack(_:)``), also when the borrower fails, or the other workers wait forever.
    func take() async -> Lent<ChunkGroupBuilder> {
        if let builder = idle.popLast() { return builder }
        return await withCheckedContinuation { waiters.append($0) }
    }

    func giveBack(_ builder: Lent<ChunkGroupBuilder>) {
        if waiters.isEmpty {
            idle.append(builder)
        } else {
            waiters.removeFirst().resume(returning: builder)
        }
    }

    /// The builders still holding chunks, once every worker is done.
    func unfinished() -> [Lent<ChunkGroupBuilder>] {
        idle.filter { !$0.value.isEmpty }
    }
}

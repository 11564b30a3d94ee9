import CTandemSystem
import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// One chunk to restore: where it goes (output and offset) and which blob holds it.
struct RestoreJob: Sendable {
    /// Position in the restore's chunk order.
    let sequence: Int
    let output: Int
    /// Byte offset of the chunk in its output.
    let offset: Int
    let id: ChunkID
    let length: Int
    /// The chunk is all zeros: nothing is fetched, and sparse outputs get a hole.
    let zero: Bool
}

/// What a worker delivers for one job.
enum RestorePayload: Sendable {
    case bytes([UInt8])
    case zeros(Int)

    var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .zeros(let count): count
        }
    }
}



/// Hands restore jobs to workers and writes their plaintext in order, output after output.
///
/// Workers may finish out of order; results wait in a reorder buffer. Jobs are handed out only
/// while fewer than `window` are unwritten, which bounds memory to `window` chunks plus one
/// run per worker.
actor OrderedWriter {
    private let plan: RestorePlan
    private let window: Int
    private var issued = 0
    private var written = 0
    private var ready: [Int: (RestoreJob, RestorePayload)] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var aborted = false
    private let sink: OutputSink
    private let progress: @Sendable (Int) -> Void

    init(plan: RestorePlan, window: Int, sink: OutputSink, progress: @escaping @Sendable (Int) -> Void) {
        self.plan = plan
        self.window = max(window, 1)
        self.sink = sink
        self.progress = progress
    }

    /// The next jobs (one, or a run from one group frame), or none when all are handed out (or
    /// the restore failed).
    func next() async throws -> [RestoreJob] {
        while !aborted && issued - written >= window {
            await withCheckedContinuation { waiters.append($0) }
        }
        guard !aborted else { return [] }
        let run = try await plan.nextRun()
        issued += run.count
        return run
    }

    /// Accepts a job's plaintext and writes everything now in order.
    func deliver(_ job: RestoreJob, _ payload: RestorePayload) throws {
        ready[job.sequence] = (job, payload)
        while let (next, bytes) = ready.removeValue(forKey: written) {
            try sink.write(output: next.output, bytes)
            progress(bytes.count)
            written += 1
        }
        let resumed = waiters
        waiters.removeAll()
        for waiter in resumed { waiter.resume() }
    }

    /// Stops handing out jobs and wakes every waiting worker.
    func abort() {
        aborted = true
        let resumed = waiters
        waiters.removeAll()
        for waiter in resumed { waiter.resume() }
    }

    func finish() throws { try sink.finish() }
}

/// Where restored bytes go: one descriptor per output, opened on first write and closed when
/// the next output starts (outputs are written strictly in order).
final class OutputSink: @unchecked Sendable {
    // Used only from inside `OrderedWriter`, which serialises every call.
    private let open: (Int) throws -> Int32
    private let closeOutput: (Int, Int32) throws -> Void
    private var current = -1
    private var fd: Int32 = -1
    private var written = 0
    private var kicked = 0
    private var endsInHole = false
    /// Zero runs become holes (a fresh regular file); otherwise zeros are written.
    private let sparse: Bool
    private static let zeroBlock = [UInt8](repeating: 0, count: 1 << 20)
    /// Writeback is started every this many bytes, overlapping disk writes with decryption.
    static let writebackStep = 64 << 20

    /// Sees every byte written, in order (a dump's checksums).
    private let observe: ((UnsafeRawBufferPointer) -> Void)?

    init(sparse: Bool, open: @escaping (Int) throws -> Int32, close: @escaping (Int, Int32) throws -> Void,
         observe: ((UnsafeRawBufferPointer) -> Void)? = nil) {
        self.sparse = sparse
        self.open = open
        closeOutput = close
        self.observe = observe
    }

    func write(output: Int, _ payload: RestorePayload) throws {
        if output != current {
            try closeCurrent()
            fd = try open(output)
            current = output
            written = 0
            kicked = 0
        }
        switch payload {
        case .bytes(let bytes):
            try writeAll(bytes, output: output)
        case .zeros(let count) where sparse:
            guard lseek(fd, off_t(count), SEEK_CUR) >= 0 else {
                throw RepositoryError.targetUnwritable("output \(output)", String(cString: strerror(errno)))
            }
            written += count
            endsInHole = true
        case .zeros(var count):
            while count > 0 {
                let piece = min(count, Self.zeroBlock.count)
                try writeAll(Self.zeroBlock[0..<piece], output: output)
                count -= piece
            }
        }
    }

    private func writeAll(_ bytes: some Collection<UInt8>, output: Int) throws {
        endsInHole = false
        _ = try bytes.withContiguousStorageIfAvailable { raw in
            observe?(UnsafeRawBufferPointer(raw))
            var done = 0
            while done < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RepositoryError.targetUnwritable("output \(output)", String(cString: strerror(errno)))
                }
                done += n
            }
        }
        written += bytes.count
        if written - kicked >= Self.writebackStep {
            _ = tandem_start_writeback(fd, Int64(kicked), Int64(written - kicked))
            kicked = written
        }
    }

    private func closeCurrent() throws {
        guard fd >= 0 else { return }
        // A file that ends in a hole needs its size set explicitly.
        if endsInHole && ftruncate(fd, off_t(written)) != 0 {
            throw RepositoryError.targetUnwritable("output \(current)", String(cString: strerror(errno)))
        }
        endsInHole = false
        try closeOutput(current, fd)
        fd = -1
    }

    func finish() throws { try closeCurrent() }
}

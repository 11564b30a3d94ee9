import Foundation
import TandemCore
#if canImport(Glibc)
import Glibc
#endif

/// One chunk to restore: where it goes (output and offset) and which blob holds it.
struct RestoreJob: Sendable {
    let output: Int
    let id: ChunkID
    let length: Int
}



/// Hands restore jobs to workers and writes their plaintext in order, output after output.
///
/// Workers may finish out of order; results wait in a reorder buffer. Jobs are handed out only
/// while fewer than `window` are unwritten, which bounds memory to `window` chunks.
actor OrderedWriter {
    private let jobs: [RestoreJob]
    private let window: Int
    private var issued = 0
    private var written = 0
    private var ready: [Int: [UInt8]] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var aborted = false
    private let sink: OutputSink
    private let progress: @Sendable (Int) -> Void

    init(jobs: [RestoreJob], window: Int, sink: OutputSink, progress: @escaping @Sendable (Int) -> Void) {
        self.jobs = jobs
        self.window = max(window, 1)
        self.sink = sink
        self.progress = progress
    }

    /// The next job's number, or nil when all are handed out (or the restore failed).
    func next() async -> (Int, RestoreJob)? {
        while !aborted && issued < jobs.count && issued - written >= window {
            await withCheckedContinuation { waiters.append($0) }
        }
        guard !aborted, issued < jobs.count else { return nil }
        defer { issued += 1 }
        return (issued, jobs[issued])
    }

    /// Accepts a job's plaintext and writes everything now in order.
    func deliver(_ number: Int, _ bytes: [UInt8]) throws {
        ready[number] = bytes
        while let next = ready.removeValue(forKey: written) {
            try sink.write(output: jobs[written].output, next)
            progress(next.count)
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

    init(open: @escaping (Int) throws -> Int32, close: @escaping (Int, Int32) throws -> Void) {
        self.open = open
        closeOutput = close
    }

    func write(output: Int, _ bytes: [UInt8]) throws {
        if output != current {
            if fd >= 0 { try closeOutput(current, fd) }
            fd = try open(output)
            current = output
        }
        try bytes.withUnsafeBytes { raw in
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
    }

    func finish() throws {
        if fd >= 0 { try closeOutput(current, fd) }
        fd = -1
    }
}

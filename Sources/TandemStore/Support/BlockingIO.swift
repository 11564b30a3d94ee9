import Dispatch

/// Runs blocking system calls (read, write, fsync, rename) off Swift's cooperative pool, which has
/// one thread per core: a task blocked in fsync there would idle a core of the pipeline.
enum BlockingIO {
    private static let queue = DispatchQueue(label: "tandem.blocking-io", qos: .utility, attributes: .concurrent)

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

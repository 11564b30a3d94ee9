import Foundation

/// Runs blocking test work (child processes waited on, exact sleeps) on a thread of its own, so
/// it neither holds one of the few threads Swift's concurrent tests share nor waits for one.
/// The work must not call `#expect`: it returns what it found, or throws, and the test checks.
enum OwnThread {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}

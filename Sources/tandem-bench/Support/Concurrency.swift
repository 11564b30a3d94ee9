import Foundation

/// A fixed number of result slots filled from worker threads.
final class Slots<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [T?]

    init(count: Int) { storage = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: T) { lock.withLock { storage[index] = value } }
    var values: [T?] { lock.withLock { storage } }
}

extension Slots where T == Int {
    /// Hands out 0, 1, 2, ... below `limit` (slot 0 holds the counter), then nil.
    func takeTicket(limit: Int) -> Int? {
        lock.withLock {
            let ticket = storage[0]!
            guard ticket < limit else { return nil }
            storage[0] = ticket + 1
            return ticket
        }
    }
}

/// Errors collected from worker threads.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []

    func add(_ message: String) { lock.withLock { messages.append(message) } }
    var first: String? { lock.withLock { messages.first } }
}

import Foundation

/// Wakes a service loop early: the loop waits for a ring or a timeout, whichever comes first;
/// a ring while nobody waits is kept for the next wait. Cancelling the waiting task ends the
/// wait at once (graceful shutdown).
///
/// (An `AsyncStream` read from a child task that is cancelled when the timeout wins is
/// finished for good by that cancellation, after which every later wait returns at once: the
/// loops that used one spun.)
actor Doorbell {
    private var rung = false
    private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    private var timers: [UInt64: Task<Void, Never>] = [:]
    private var nextID: UInt64 = 0

    /// Rings from anywhere, without waiting.
    nonisolated func ring() {
        Task { await self.ringNow() }
    }

    func ringNow() {
        guard !waiters.isEmpty else {
            rung = true
            return
        }
        let woken = waiters
        waiters.removeAll()
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        for waiter in woken.values { waiter.resume() }
    }

    /// Returns at the next ring (or at once if one came since the last wait), after
    /// `timeout`, or when the task is cancelled.
    func wait(timeout: Duration) async {
        if rung {
            rung = false
            return
        }
        nextID += 1
        let id = nextID
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                waiters[id] = continuation
                timers[id] = Task {
                    try? await Task.sleep(for: timeout)
                    await self.expire(id)
                }
            }
        } onCancel: {
            Task { await self.expire(id) }
        }
    }

    private func expire(_ id: UInt64) {
        timers.removeValue(forKey: id)?.cancel()
        waiters.removeValue(forKey: id)?.resume()
    }
}

import Foundation
import Testing
@testable import TandemDaemon

/// The wake-up used by the scheduler, the shipper and the twin resync: a ring ends a wait, a
/// ring with nobody waiting is kept, a timeout ends it, and — the bug it replaced — waiting
/// again after a timeout still waits. (Bounds are loose: a loaded test machine may stall this
/// process's threads for many seconds; the waits they tell apart are 3600 s.)
@Suite struct DoorbellTests {
    @Test func ringsTimeoutsAndLaterWaits() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        // A timeout, then another wait: it must wait again, not return at once.
        for _ in 0..<3 {
            let began = clock.now
            await bell.wait(timeout: .milliseconds(100))
            #expect(clock.now - began >= .milliseconds(90))
        }
        // A ring kept for the next wait.
        await bell.ringNow()
        let began = clock.now
        await bell.wait(timeout: .seconds(3600))
        #expect(clock.now - began < .seconds(600))
        // A ring during a wait ends it.
        async let waited: Void = bell.wait(timeout: .seconds(3600))
        try? await Task.sleep(for: .milliseconds(50))
        await bell.ringNow()
        await waited
        #expect(clock.now - began < .seconds(600))
    }

    @Test func cancellingTheWaiterEndsTheWait() async {
        let bell = Doorbell()
        let clock = ContinuousClock()
        let began = clock.now
        let waiter = Task { await bell.wait(timeout: .seconds(3600)) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        #expect(clock.now - began < .seconds(600))
    }
}

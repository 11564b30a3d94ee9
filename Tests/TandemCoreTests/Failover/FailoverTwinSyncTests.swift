import Testing
@testable import TandemCore

/// Degraded mode (``TwinSyncMachine``) and the twin's epoch check on mirrored writes.
@Suite struct FailoverTwinSyncTests {
    let north = FailoverFixture.north, south = FailoverFixture.south

    @Test func requiredWaitsForTheTwinThenFailsClearly() {
        var sync = TwinSyncMachine(holder: north, twin: south, policy: .required(maxWait: .seconds(30)))
        #expect(sync.acknowledgement(at: at(0)) == .afterTwin)
        #expect(sync.twinLost(epoch: .initial, now: at(1)) == .none)
        #expect(sync.twinState == .unreachable)
        #expect(sync.acknowledgement(at: at(30.9)) == .wait)
        #expect(sync.acknowledgement(at: at(31)) == .fail(twinAwayFor: .seconds(30)))
        #expect(sync.twinReturned(now: at(40)) == .resync)
        #expect(sync.twinState == .catchingUp)
        #expect(sync.resyncCompleted(epoch: .initial, now: at(41)) == .none)
        #expect(sync.twinState == .inSync)
    }

    @Test func preferredRecordsTheTwinOutdatedBeforeAcknowledgingAlone() {
        var sync = TwinSyncMachine(holder: north, twin: south, policy: .preferred)
        let outdate = OutdateRequest(holder: north, epoch: Epoch(2), twin: south)
        #expect(sync.acknowledgement(at: at(0)) == .afterTwin)
        #expect(sync.twinState == .inSync)
        #expect(sync.twinLost(epoch: Epoch(2), now: at(1)) == .recordOutdated(outdate))
        #expect(sync.acknowledgement(at: at(1)) == .wait)                 // not before the witness recorded it
        sync.outdateRecorded(now: at(1.1))
        #expect(sync.acknowledgement(at: at(1.1)) == .localOnly)
        #expect(sync.twinState == .outdated)
        #expect(sync.twinReturned(now: at(50)) == .resync)
        #expect(sync.twinState == .catchingUp)
        #expect(sync.acknowledgement(at: at(50)) == .afterTwin)
        // Lost again mid-resync: still recorded outdated, so acknowledging alone goes on at once.
        #expect(sync.twinLost(epoch: Epoch(2), now: at(51)) == .none)
        #expect(sync.acknowledgement(at: at(51)) == .localOnly)
        #expect(sync.twinReturned(now: at(60)) == .resync)
        #expect(sync.resyncCompleted(epoch: Epoch(2), now: at(70)) == .clearOutdated(outdate))
        #expect(sync.twinState == .catchingUp)
        sync.outdateCleared(now: at(70.1))
        #expect(sync.twinState == .inSync)
        #expect(sync.acknowledgement(at: at(71)) == .afterTwin)
    }

    @Test func aRefusedOutdateKeepsWritesWaiting() {
        var sync = TwinSyncMachine(holder: north, twin: south, policy: .preferred)
        _ = sync.twinLost(epoch: .initial, now: at(1))
        sync.outdateRefused(now: at(1.2))
        #expect(sync.acknowledgement(at: at(500)) == .wait)               // preferred never fails, it waits
        #expect(sync.twinState == .unreachable)
        #expect(sync.twinLost(epoch: .initial, now: at(501)) == .recordOutdated(OutdateRequest(holder: north, epoch: .initial, twin: south)))
        sync.outdateRecorded(now: at(501.1))
        #expect(sync.acknowledgement(at: at(502)) == .localOnly)
    }

    @Test func staleEpochWritesAreRefusedAndCounted() {
        var fence = EpochFence(current: Epoch(2))
        #expect(fence.admit(Epoch(2)) == .accepted)
        #expect(fence.admit(Epoch(1)) == .refused(StaleEpochWrite(epoch: Epoch(1), current: Epoch(2))))
        #expect(fence.admit(Epoch(3)) == .advanced(from: Epoch(2)))
        #expect(fence.admit(Epoch(2)) == .refused(StaleEpochWrite(epoch: Epoch(2), current: Epoch(3))))
        #expect(fence.staleRefused == 2)
        #expect(fence.current == Epoch(3))
    }
}

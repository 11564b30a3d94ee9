import Testing
@testable import TandemCore

/// ``LeaseGrantorMachine`` as transition tables (L = 10 s): promises never overlap, stale
/// epochs are refused and counted, released and outdated sites are kept out.
@Suite struct FailoverGrantorTests {
    let north = FailoverFixture.north, south = FailoverFixture.south, remote = FailoverFixture.remote

    func ask(_ grantor: inout LeaseGrantorMachine, _ holder: SiteID, _ epoch: UInt64, at time: Double) -> LeaseReply {
        grantor.request(LeaseRequest(holder: holder, epoch: Epoch(epoch), id: LeaseRequestID(incarnation: 1, sequence: 1)),
                        now: at(time))
    }

    @Test func aRestartedVoterStaysQuietForOneLease() {
        var grantor = LeaseGrantorMachine(site: remote, settings: FailoverFixture.settings, startedAt: at(0))
        #expect(ask(&grantor, north, 1, at: 4).refusal == .recovering(remaining: .seconds(6)))
        #expect(grantor.takeoverVerdict(requester: south, now: at(4)) == .disagrees(.recovering(remaining: .seconds(6))))
        #expect(ask(&grantor, north, 1, at: 10).grant != nil)
    }

    @Test func promisesToDifferentHoldersNeverOverlap() {
        var grantor = LeaseGrantorMachine.warm(remote)
        let rows: [(Double, SiteID, UInt64, LeaseRefusal?)] = [
            (0, north, 1, nil),                                                           // promise until 10
            (1, north, 1, nil),                                                           // renewed: until 11
            (2, south, 2, .heldByOther(holder: north, epoch: Epoch(1), remaining: .seconds(9))),
            // South's attempt made epoch 2 the newest: north's renewals are stale now.
            (3, north, 1, .staleEpoch(current: Epoch(2), owner: south)),
            (11, south, 2, .heldByOther(holder: north, epoch: Epoch(1), remaining: .zero)), // inclusive end
            (11.000_000_001, south, 2, nil),
            (12, north, 1, .staleEpoch(current: Epoch(2), owner: south)),
            (12, north, 2, .epochTaken(by: south)),
            (13, south, 2, nil),
        ]
        for (time, holder, epoch, expected) in rows {
            let reply = ask(&grantor, holder, epoch, at: time)
            #expect(reply.refusal == expected, "at \(time) s, \(holder) at epoch \(epoch)")
            if expected == nil {
                #expect(reply.grant == LeaseGrant(grantor: remote, holder: holder, epoch: Epoch(epoch),
                                                  request: LeaseRequestID(incarnation: 1, sequence: 1), duration: .seconds(10)))
            }
        }
        #expect(grantor.refusals == [.heldByOther: 2, .staleEpoch: 2, .epochTaken: 1])
        #expect(grantor.newest == EpochOwnership(epoch: Epoch(2), owner: south))
        #expect(grantor.promise(at: at(20))?.holder == south)
        #expect(grantor.promise(at: at(23.1)) == nil)
    }

    @Test func aReleasedLeaseCannotBeRenewedByALateRequest() {
        var grantor = LeaseGrantorMachine.warm(remote)
        _ = ask(&grantor, north, 1, at: 0)
        let wrongHolder = grantor.release(LeaseRelease(holder: south, epoch: Epoch(1), successor: north), now: at(1))
        let wrongEpoch = grantor.release(LeaseRelease(holder: north, epoch: Epoch(2), successor: south), now: at(1))
        let released = grantor.release(LeaseRelease(holder: north, epoch: Epoch(1), successor: south), now: at(1))
        #expect(!wrongHolder && !wrongEpoch && released)
        #expect(ask(&grantor, north, 1, at: 1.1).refusal == .released(Epoch(1)))
        // The successor does not wait for the old promise.
        #expect(ask(&grantor, south, 2, at: 1.2).grant != nil)
        #expect(ask(&grantor, north, 1, at: 1.3).refusal == .staleEpoch(current: Epoch(2), owner: south))
    }

    @Test func onlyTheHolderRecordsItsTwinOutdatedAndAnOutdatedTwinIsKeptOut() {
        var grantor = LeaseGrantorMachine.warm(remote)
        _ = ask(&grantor, north, 1, at: 0)
        let outdate = OutdateRequest(holder: north, epoch: Epoch(1), twin: south)
        #expect(grantor.recordOutdated(OutdateRequest(holder: south, epoch: Epoch(1), twin: north), now: at(1))
                == .failure(.notHolder(current: Epoch(1), owner: north)))
        #expect(grantor.recordOutdated(OutdateRequest(holder: north, epoch: Epoch(1), twin: north), now: at(1))
                == .failure(.twinIsHolder(north)))
        #expect(grantor.recordOutdated(outdate, now: at(1)) == .success(Epoch(1)))
        #expect(grantor.outdated == [south: Epoch(1)])
        // North dies; long after its lease the outdated twin still gets neither grant nor backing.
        #expect(ask(&grantor, south, 2, at: 30).refusal == .requesterOutdated(since: Epoch(1)))
        #expect(grantor.takeoverVerdict(requester: south, now: at(30)) == .disagrees(.requesterOutdated(since: Epoch(1))))
        #expect(grantor.newest == EpochOwnership(epoch: Epoch(1), owner: north))
        // After resync the holder clears it.
        _ = ask(&grantor, north, 1, at: 31)
        #expect(grantor.clearOutdated(outdate, now: at(31)).isSuccess)
        #expect(grantor.outdated.isEmpty)
    }

    @Test func theWitnessBacksATakeoverOnlyAfterItTooMissedTheHolder() {
        var grantor = LeaseGrantorMachine.warm(remote)
        _ = ask(&grantor, north, 1, at: 0.9)                       // promise until 10.9
        grantor.heardFrom(north, now: at(1.0))                      // a heartbeat
        #expect(grantor.takeoverVerdict(requester: south, now: at(3.9))
                == .disagrees(.holderAlive(site: north, lastHeard: .milliseconds(2_900))))
        #expect(grantor.takeoverVerdict(requester: south, now: at(4.0))
                == .agrees(epoch: Epoch(1), oldLeaseRemaining: .milliseconds(6_900)))
        #expect(grantor.takeoverVerdict(requester: south, now: at(11))
                == .agrees(epoch: Epoch(1), oldLeaseRemaining: .zero))
        // Asking about itself: nothing to take over from.
        #expect(grantor.takeoverVerdict(requester: north, now: at(1)) == .agrees(epoch: Epoch(1), oldLeaseRemaining: .zero))
    }

    /// Random requests (and some releases) from three sites with random epochs: a grant to one
    /// site comes more than L after the last grant to any other site, unless that site released
    /// it; grant epochs never go back; an epoch has one holder.
    @Test(arguments: 0..<20)
    func randomRequestsNeverYieldOverlappingPromises(seed: UInt64) {
        var random = FailoverRandom(seed: seed)
        var grantor = LeaseGrantorMachine.warm(remote)
        var lastGrant: [SiteID: MonotonicInstant] = [:]
        var releasedSince: Set<SiteID> = []
        var owners: [Epoch: SiteID] = [:]
        var lastEpoch = Epoch(0)
        var granted = 0
        var now = at(0)
        for _ in 0..<2_000 {
            now = now + .milliseconds(Int64.random(in: 0...1_500, using: &random))
            let holder = [north, south, remote].randomElement(using: &random)!
            // Mostly the newest epoch, sometimes one behind (stale) or one ahead (a takeover).
            let newest = grantor.newest?.epoch.value ?? 1
            let epoch = Epoch(max(1, newest + [0, 0, 0, 0, 1, 2].randomElement(using: &random)! - 1))
            if random.chance(0.05),
               grantor.release(LeaseRelease(holder: holder, epoch: epoch, successor: north), now: now) {
                releasedSince.insert(holder)
            }
            let request = LeaseRequest(holder: holder, epoch: epoch, id: LeaseRequestID(incarnation: 1, sequence: 1))
            guard grantor.request(request, now: now).grant != nil else { continue }
            granted += 1
            for (other, time) in lastGrant where other != holder && !releasedSince.contains(other) {
                #expect(now > time + .seconds(10), "\(holder) granted within a lease of \(other)")
            }
            #expect(owners[epoch, default: holder] == holder)
            #expect(epoch >= lastEpoch)
            owners[epoch] = holder
            lastEpoch = epoch
            lastGrant[holder] = now
            releasedSince.remove(holder)
        }
        #expect(granted > 100)
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

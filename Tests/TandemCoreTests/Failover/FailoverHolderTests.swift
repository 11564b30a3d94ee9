import Testing
@testable import TandemCore

/// ``LeaseHolderMachine`` as transition tables on a manual clock (standard settings:
/// L = 10 s, D = 500 ms, renewals every second; a grant lets the holder write until the
/// request's send time + 9.5 s).
@Suite struct FailoverHolderTests {
    let north = FailoverFixture.north, south = FailoverFixture.south, remote = FailoverFixture.remote

    enum Event {
        case start
        case tick
        case grant(from: SiteID, sequence: UInt64)
        case refusal(from: SiteID, sequence: UInt64, LeaseRefusal)
    }

    func request(_ sequence: UInt64, epoch: Epoch = .initial) -> LeaseRequest {
        LeaseRequest(holder: north, epoch: epoch, id: LeaseRequestID(incarnation: 7, sequence: sequence))
    }

    func grant(_ from: SiteID, _ sequence: UInt64, epoch: Epoch = .initial) -> LeaseGrant {
        LeaseGrant(grantor: from, holder: north, epoch: epoch, request: LeaseRequestID(incarnation: 7, sequence: sequence),
                   duration: .seconds(10))
    }

    /// Runs `rows` of (time, event, expected actions, expected mayWrite at that time).
    func run(_ holder: inout LeaseHolderMachine,
             _ rows: [(Double, Event, [LeaseHolderAction], Bool)], sourceLocation: SourceLocation = #_sourceLocation) {
        for (time, event, expected, writable) in rows {
            let now = at(time)
            let actions: [LeaseHolderAction]
            switch event {
            case .start: actions = holder.start(now: now)
            case .tick: actions = holder.tick(now: now)
            case .grant(let from, let sequence): actions = holder.grantReceived(grant(from, sequence), now: now)
            case .refusal(let from, let sequence, let reason):
                actions = holder.refusalReceived(LeaseRefused(grantor: from, request: request(sequence), reason: reason), now: now)
            }
            #expect(actions == expected, "at \(time) s after \(event)", sourceLocation: sourceLocation)
            #expect(holder.mayWrite(at: now) == writable, "mayWrite at \(time) s", sourceLocation: sourceLocation)
        }
    }

    @Test func normalRenewalsKeepTheLeaseMovingAhead() {
        var holder = LeaseHolderMachine.test()
        run(&holder, [
            (0.00, .start, [.sendRequests(request(1))], false),
            (0.01, .grant(from: north, sequence: 1), [], false),           // one grant is no majority
            (0.02, .grant(from: remote, sequence: 1), [.startWriting(epoch: .initial, until: at(9.5))], true),
            (0.50, .tick, [], true),
            (1.00, .tick, [.sendRequests(request(2))], true),
            (1.01, .grant(from: north, sequence: 2), [], true),
            (1.02, .grant(from: south, sequence: 2), [], true),
            (2.00, .tick, [.sendRequests(request(3))], true),
            (2.03, .grant(from: remote, sequence: 3), [], true),
            (2.04, .grant(from: north, sequence: 3), [], true),
        ])
        #expect(holder.leaseEnd == at(11.5))
        #expect(holder.phase == .holding)
        #expect(holder.refusals.isEmpty)
        #expect(holder.nextDeadline == at(3))
    }

    @Test func theLeaseEndsExactlyAtSendTimePlusLeaseMinusDrift() {
        var holder = LeaseHolderMachine.test()
        run(&holder, [
            (0.0, .start, [.sendRequests(request(1))], false),
            (0.4, .grant(from: north, sequence: 1), [], false),
            (0.9, .grant(from: remote, sequence: 1), [.startWriting(epoch: .initial, until: at(9.5))], true),
            // Renewals go unanswered (the majority is gone).
            (1.0, .tick, [.sendRequests(request(2))], true),
            (9.0, .tick, [.sendRequests(request(3))], true),
            (9.499_999_999, .tick, [], true),
            (9.5, .tick, [.stopWriting(.leaseExpired)], false),
            (10.0, .tick, [.sendRequests(request(4))], false),
            // A late grant for an old request cannot revive the lease: it counts from its send time.
            (10.1, .grant(from: south, sequence: 2), [], false),
            (10.2, .grant(from: remote, sequence: 4), [.startWriting(epoch: .initial, until: at(10.5))], true),
        ])
    }

    @Test func theMajorityIsTheSecondLatestGrant() {
        var holder = LeaseHolderMachine.test()
        _ = holder.start(now: at(0))
        for second in 1...4 { _ = holder.tick(now: at(Double(second))) }
        _ = holder.grantReceived(grant(remote, 1), now: at(4.1))   // sent at 0: writable until 9.5
        _ = holder.grantReceived(grant(north, 5), now: at(4.2))    // sent at 4: writable until 13.5
        #expect(holder.leaseEnd == at(9.5))
        _ = holder.grantReceived(grant(south, 5), now: at(4.3))
        #expect(holder.leaseEnd == at(13.5))
    }

    @Test func grantsThatAreNotForThisMachineAreIgnored() {
        var holder = LeaseHolderMachine.test()
        _ = holder.start(now: at(0))
        _ = holder.grantReceived(grant(north, 1), now: at(0.1))
        let foreign: [LeaseGrant] = [
            LeaseGrant(grantor: remote, holder: north, epoch: .initial, request: LeaseRequestID(incarnation: 6, sequence: 1), duration: .seconds(10)),
            grant(remote, 1, epoch: Epoch(2)),
            grant(remote, 99),
            LeaseGrant(grantor: "elsewhere", holder: north, epoch: .initial, request: LeaseRequestID(incarnation: 7, sequence: 1), duration: .seconds(10)),
            LeaseGrant(grantor: remote, holder: south, epoch: .initial, request: LeaseRequestID(incarnation: 7, sequence: 1), duration: .seconds(10)),
        ]
        for grant in foreign {
            #expect(holder.grantReceived(grant, now: at(0.2)).isEmpty)
        }
        #expect(!holder.mayWrite(at: at(0.2)))
        // A shorter promise than ours shortens the lease too.
        let short = LeaseGrant(grantor: remote, holder: north, epoch: .initial,
                               request: LeaseRequestID(incarnation: 7, sequence: 1), duration: .seconds(5))
        #expect(holder.grantReceived(short, now: at(0.3)) == [.startWriting(epoch: .initial, until: at(4.5))])
    }

    @Test func aNewerEpochFencesTheHolderAtOnce() {
        var holder = LeaseHolderMachine.test()
        run(&holder, [
            (0.0, .start, [.sendRequests(request(1))], false),
            (0.1, .grant(from: north, sequence: 1), [], false),
            (0.1, .grant(from: remote, sequence: 1), [.startWriting(epoch: .initial, until: at(9.5))], true),
            (1.0, .tick, [.sendRequests(request(2))], true),
            // A refusal that reveals nothing newer is counted; the lease stands.
            (1.1, .refusal(from: south, sequence: 2, .recovering(remaining: .seconds(3))), [], true),
            (1.2, .refusal(from: remote, sequence: 2, .staleEpoch(current: Epoch(2), owner: south)),
             [.stopWriting(.fenced(epoch: Epoch(2), owner: south)), .fenced(epoch: Epoch(2), owner: south)], false),
            // Finished: nothing revives it.
            (1.3, .grant(from: north, sequence: 2), [], false),
            (2.0, .tick, [], false),
        ])
        #expect(holder.phase == .fenced)
        #expect(holder.refusals == [.recovering: 1, .staleEpoch: 1])
    }

    @Test(arguments: [
        (LeaseRefusal.epochTaken(by: "south"), true),
        (.heldByOther(holder: "south", epoch: Epoch(2), remaining: .seconds(4)), true),
        (.heldByOther(holder: "south", epoch: Epoch(1), remaining: .seconds(4)), false),
        (.staleEpoch(current: Epoch(1), owner: "north"), false),
        (.released(Epoch(1)), false),
        (.requesterOutdated(since: Epoch(1)), false),
    ])
    func whichRefusalsFence(reason: LeaseRefusal, fences: Bool) {
        var holder = LeaseHolderMachine.test()
        _ = holder.start(now: at(0))
        let actions = holder.refusalReceived(LeaseRefused(grantor: remote, request: request(1), reason: reason), now: at(0.1))
        #expect((holder.phase == .fenced) == fences)
        #expect(actions.contains { if case .fenced = $0 { true } else { false } } == fences)
    }

    @Test func waitingOutAnOlderPromiseRetriesJustAfterIt() {
        var holder = LeaseHolderMachine.test(epoch: Epoch(2))
        _ = holder.start(now: at(0))
        let refused = LeaseRefused(grantor: remote, request: request(1, epoch: Epoch(2)),
                                   reason: .heldByOther(holder: south, epoch: .initial, remaining: .milliseconds(300)))
        #expect(holder.refusalReceived(refused, now: at(0.01)).isEmpty)
        #expect(holder.nextDeadline == at(0.31))
        #expect(holder.tick(now: at(0.31)) == [.sendRequests(request(2, epoch: Epoch(2)))])
    }

    @Test func aPlannedHandoverDrainsThenReleases() throws {
        var holder = LeaseHolderMachine.test()
        #expect(throws: HandoverRefusal.notHolding(.idle)) { try holder.beginHandover(to: south, now: at(0)) }
        _ = holder.start(now: at(0))
        _ = holder.grantReceived(grant(north, 1), now: at(0.1))
        _ = holder.grantReceived(grant(remote, 1), now: at(0.1))
        #expect(throws: HandoverRefusal.unknownSuccessor(north)) { try holder.beginHandover(to: north, now: at(1)) }
        #expect(throws: HandoverRefusal.notDraining(.holding)) { try holder.drained(now: at(1)) }
        #expect(try holder.beginHandover(to: south, now: at(1)) == [.stopWriting(.handover(to: south))])
        #expect(!holder.mayWrite(at: at(1)))
        // Still renewing while draining, so an aborted switchover can resume.
        #expect(holder.tick(now: at(1)) == [.sendRequests(request(2))])
        #expect(holder.abortHandover(now: at(1.5)) == [.startWriting(epoch: .initial, until: at(9.5))])
        _ = try holder.beginHandover(to: south, now: at(2))
        #expect(try holder.drained(now: at(2.2)) == [.release(LeaseRelease(holder: north, epoch: .initial, successor: south))])
        #expect(holder.phase == .released)
        #expect(holder.tick(now: at(3)).isEmpty)
        #expect(!holder.mayWrite(at: at(3)))
    }

    @Test func aForcedHolderWritesWithoutAMajorityUntilOneReturns() {
        var holder = LeaseHolderMachine.test(south, epoch: Epoch(2))
        let reason = OperatorReason("north and the witness are gone")!
        let actions = holder.startForced(reason: reason, now: at(0))
        #expect(actions.first == .startWriting(epoch: Epoch(2), until: nil))
        #expect(holder.mayWrite(at: at(1_000)))
        #expect(holder.phase == .forced)
        // Once a majority grants, the normal rules apply again, lease expiry included.
        let id = actions.request!.id
        _ = holder.grantReceived(LeaseGrant(grantor: south, holder: south, epoch: Epoch(2), request: id, duration: .seconds(10)), now: at(0.1))
        _ = holder.grantReceived(LeaseGrant(grantor: remote, holder: south, epoch: Epoch(2), request: id, duration: .seconds(10)), now: at(0.1))
        #expect(holder.phase == .holding)
        #expect(holder.tick(now: at(9.5)).first == .stopWriting(.leaseExpired))
    }

    @Test func stoppingStopsWritingOnce() {
        var holder = LeaseHolderMachine.test()
        _ = holder.start(now: at(0))
        _ = holder.grantReceived(grant(north, 1), now: at(0.1))
        _ = holder.grantReceived(grant(remote, 1), now: at(0.1))
        #expect(holder.stop(now: at(1)) == [.stopWriting(.shutdown)])
        #expect(holder.stop(now: at(2)).isEmpty)
        #expect(!holder.mayWrite(at: at(2)))
    }
}

import Testing
@testable import TandemCore

/// ``FailoverMachine`` (the twin's view) as transition tables on a manual clock, standard
/// settings: heartbeats every second, suspicion after 3 missed, L = 10 s.
@Suite struct FailoverMachineTests {
    let north = FailoverFixture.north, south = FailoverFixture.south

    enum Event {
        case heartbeat(Epoch)
        case tick
        case witness(WitnessVerdict)
    }

    func twin(outdatedSince: Epoch? = nil) -> FailoverMachine {
        FailoverMachine(site: south, activeSite: north, epoch: .initial, settings: FailoverFixture.settings,
                        outdatedSince: outdatedSince, now: at(0))
    }

    func run(_ machine: inout FailoverMachine, _ rows: [(Double, Event, FailoverAction)],
             sourceLocation: SourceLocation = #_sourceLocation) {
        for (time, event, expected) in rows {
            let action: FailoverAction
            switch event {
            case .heartbeat(let epoch): action = machine.heartbeat(from: north, epoch: epoch, active: true, now: at(time))
            case .tick: action = machine.tick(now: at(time))
            case .witness(let verdict): action = machine.witnessAnswered(verdict, now: at(time))
            }
            #expect(action == expected, "at \(time) s after \(event)", sourceLocation: sourceLocation)
        }
    }

    var promotion: Promotion { Promotion(epoch: Epoch(2), previousEpoch: .initial, previousSite: north, cause: .failover) }

    @Test func theHomeSiteDiesAndTheTwinPromotesAfterThreeMissedHeartbeatsAndTheLease() {
        var machine = twin()
        run(&machine, [
            (1.0, .heartbeat(.initial), .none),
            (2.0, .heartbeat(.initial), .none),      // the last one: north dies after 2 s
            (3.0, .tick, .none),
            (4.999, .tick, .none),                   // two missed
            (5.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),  // exactly three missed
            (5.01, .witness(.agrees(epoch: .initial, oldLeaseRemaining: .milliseconds(6_500))),
             .holdOff(.oldLeaseNotExpired(until: at(12)))),
            (8.0, .tick, .none),
            (12.0, .tick, .none),                    // L after the last heartbeat: still the old lease's
            (12.001, .tick, .promote(promotion)),
            (13.0, .tick, .none),
        ])
        #expect(machine.promotion?.epoch == Epoch(2))
        #expect(machine.missedHeartbeats(at: at(5)) == 3)
    }

    @Test func theWitnessPromiseCanOutlastTheTwinsOwnEstimate() {
        var machine = twin()
        run(&machine, [
            (3.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),
            (3.1, .witness(.agrees(epoch: Epoch(3), oldLeaseRemaining: .seconds(9))),
             .holdOff(.oldLeaseNotExpired(until: at(12.1)))),
            (12.1, .tick, .none),
            (12.2, .tick, .promote(Promotion(epoch: Epoch(4), previousEpoch: Epoch(3), previousSite: north, cause: .failover))),
        ])
    }

    @Test func heartbeatsThatResumeCallTheTakeoverOff() {
        var machine = twin()
        run(&machine, [
            (3.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),
            (3.5, .heartbeat(.initial), .holdOff(.heartbeatsStillArriving(lastHeard: .zero))),
            (3.6, .witness(.agrees(epoch: .initial, oldLeaseRemaining: .zero)), .none),   // late answer
            (6.4, .tick, .none),
            (6.5, .tick, .consultWitness(activeSite: north, epoch: .initial)),
            (6.6, .witness(.agrees(epoch: .initial, oldLeaseRemaining: .zero)), .holdOff(.oldLeaseNotExpired(until: at(13.5)))),
            (7.0, .heartbeat(.initial), .holdOff(.heartbeatsStillArriving(lastHeard: .zero))),
            (17.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),
        ])
        #expect(machine.promotion == nil)
    }

    @Test func whenHomeStillSeesTheWitnessTheTwinNeverPromotes() {
        var machine = twin()
        let alive = WitnessVerdict.disagrees(.holderAlive(site: north, lastHeard: .milliseconds(400)))
        var rows: [(Double, Event, FailoverAction)] = [(3.0, .tick, .consultWitness(activeSite: north, epoch: .initial))]
        for second in 3...120 {
            let time = Double(second)
            if second > 3 { rows.append((time, .tick, .consultWitness(activeSite: north, epoch: .initial))) }
            rows.append((time + 0.1, .witness(alive), .holdOff(.witnessDisagrees(.holderAlive(site: north, lastHeard: .milliseconds(400))))))
        }
        run(&machine, rows)
        #expect(machine.promotion == nil)
        #expect(machine.lastRefusal == .witnessDisagrees(.holderAlive(site: north, lastHeard: .milliseconds(400))))
        #expect(machine.witnessUnreachable(now: at(121)) == .holdOff(.witnessUnreachable))
    }

    @Test func anOutdatedTwinCannotPromoteUntilItCaughtUp() throws {
        var machine = twin()
        run(&machine, [
            (3.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),
            (3.1, .witness(.disagrees(.requesterOutdated(since: .initial))), .holdOff(.outdated(since: .initial))),
            // Even a witness that (wrongly) agrees is not enough while this twin knows it is behind.
            (4.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),
            (4.1, .witness(.agrees(epoch: .initial, oldLeaseRemaining: .zero)), .holdOff(.outdated(since: .initial))),
        ])
        #expect(machine.outdatedSince == .initial)
        #expect(throws: PromotionRefusal.outdated(since: .initial)) {
            try machine.handoverOffered(LeaseRelease(holder: north, epoch: .initial, successor: south), now: at(5))
        }
        machine.caughtUp()
        run(&machine, [
            (5.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),
            (5.1, .witness(.agrees(epoch: .initial, oldLeaseRemaining: .zero)), .holdOff(.oldLeaseNotExpired(until: at(10)))),
            (10.1, .tick, .promote(promotion)),
        ])
    }

    @Test func beingMarkedOutdatedWhileWaitingForExpiryStopsThePromotion() {
        var machine = twin()
        run(&machine, [
            (3.0, .tick, .consultWitness(activeSite: north, epoch: .initial)),
            (3.1, .witness(.agrees(epoch: .initial, oldLeaseRemaining: .zero)), .holdOff(.oldLeaseNotExpired(until: at(10)))),
        ])
        machine.markedOutdated(since: .initial)
        run(&machine, [(10.1, .tick, .holdOff(.outdated(since: .initial)))])
        #expect(machine.promotion == nil)
    }

    @Test func aForcedPromotionNeedsAReasonAndIsReportedAsDivergent() throws {
        var machine = twin(outdatedSince: .initial)
        _ = machine.heartbeat(from: north, epoch: .initial, active: true, now: at(1))
        #expect(throws: PromotionRefusal.reasonRequired) { try machine.forcePromotion(reason: "", now: at(30)) }
        #expect(throws: PromotionRefusal.reasonRequired) { try machine.forcePromotion(reason: " \n", now: at(30)) }
        #expect(throws: PromotionRefusal.heartbeatsStillArriving(lastHeard: .seconds(1))) {
            try machine.forcePromotion(reason: "north is flooded", now: at(2))
        }
        #expect(throws: PromotionRefusal.oldLeaseNotExpired(until: at(11))) {
            try machine.forcePromotion(reason: "north is flooded", now: at(11))
        }
        let action = try machine.forcePromotion(reason: "north is flooded", now: at(11.5))
        let report = DivergenceReport(site: south, epoch: Epoch(2), otherSite: north, otherEpoch: .initial,
                                      reason: OperatorReason("north is flooded")!, outdatedSince: .initial)
        #expect(action == .promote(Promotion(epoch: Epoch(2), previousEpoch: .initial, previousSite: north, cause: .forced(report))))
        #expect(report.description.contains("both histories are kept"))
        #expect(throws: PromotionRefusal.alreadyPromoted) { try machine.forcePromotion(reason: "again", now: at(12)) }
        // North comes back still writing under epoch 1: reported once.
        #expect(machine.heartbeat(from: north, epoch: .initial, active: true, now: at(40)) == .divergenceDetected(report))
        #expect(machine.heartbeat(from: north, epoch: .initial, active: true, now: at(41)) == .none)
    }

    @Test func aHandoverOfferPromotesAtOnce() throws {
        var machine = twin()
        #expect(throws: PromotionRefusal.notOffered(holder: north, epoch: .initial)) {
            try machine.handoverOffered(LeaseRelease(holder: north, epoch: .initial, successor: "elsewhere"), now: at(1))
        }
        #expect(throws: PromotionRefusal.notOffered(holder: "remote", epoch: .initial)) {
            try machine.handoverOffered(LeaseRelease(holder: "remote", epoch: .initial, successor: south), now: at(1))
        }
        let action = try machine.handoverOffered(LeaseRelease(holder: north, epoch: .initial, successor: south), now: at(1))
        #expect(action == .promote(Promotion(epoch: Epoch(2), previousEpoch: .initial, previousSite: north, cause: .switchover)))
    }

    @Test func heartbeatsOfStandbysAndOlderEpochsDoNotCount() {
        var machine = twin()
        _ = machine.heartbeat(from: north, epoch: Epoch(3), active: true, now: at(1))
        #expect(machine.epoch == Epoch(3))
        _ = machine.heartbeat(from: north, epoch: Epoch(2), active: true, now: at(2))
        _ = machine.heartbeat(from: north, epoch: Epoch(3), active: false, now: at(2.5))
        #expect(machine.missedHeartbeats(at: at(4)) == 3)
        #expect(machine.oldLeaseEnd == at(11))
    }
}

import Testing
import TandemCore

/// The commit decision (``CommitMachine``): every path from a written snapshot to an
/// acknowledgement or a refusal, as a table.
@Suite struct CommitMachineTests {
    struct Row: Sendable, CustomTestStringConvertible {
        let name: String
        let twin: CommitMachine.TwinRule?
        let leases: Bool
        /// The facts, in the order the daemon finds them out.
        let events: [CommitMachine.Event]
        /// The step after start, then after each event.
        let steps: [CommitMachine.Step]
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "no twin, no leases: acknowledged at once", twin: nil, leases: false, events: [],
            steps: [.acknowledge(twinLacks: nil)]),
        Row(name: "no twin, leases: the lease is confirmed first", twin: nil, leases: true, events: [.leaseHeld],
            steps: [.confirmLease, .acknowledge(twinLacks: nil)]),
        Row(name: "twin holds it, lease held", twin: .required, leases: true, events: [.twinHolds, .leaseHeld],
            steps: [.mirrorToTwin, .confirmLease, .acknowledge(twinLacks: nil)]),
        Row(name: "twin holds it, no leases", twin: .preferred, leases: false, events: [.twinHolds],
            steps: [.mirrorToTwin, .acknowledge(twinLacks: nil)]),
        Row(name: "required, twin lacks it: refused, the witness is not asked", twin: .required, leases: true,
            events: [.twinLacks("timeout")],
            steps: [.mirrorToTwin, .refuse(.twinRequired(twinLacks: "timeout"))]),
        Row(name: "preferred, twin lacks it, outdate recorded, lease held: acknowledged degraded", twin: .preferred, leases: true,
            events: [.twinLacks("down"), .outdateRecorded, .leaseHeld],
            steps: [.mirrorToTwin, .recordTwinOutdated, .confirmLease, .acknowledge(twinLacks: "down")]),
        Row(name: "preferred, twin lacks it, outdate refused", twin: .preferred, leases: true,
            events: [.twinLacks("down"), .outdateRefused("witness unreachable")],
            steps: [.mirrorToTwin, .recordTwinOutdated, .refuse(.outdateNotRecorded(twinLacks: "down", refusal: "witness unreachable"))]),
        Row(name: "twin holds it but the lease was lost meanwhile", twin: .required, leases: true, events: [.twinHolds, .leaseLost],
            steps: [.mirrorToTwin, .confirmLease, .refuse(.leaseLost)]),
        Row(name: "degraded and the lease was lost: refused for the lease", twin: .preferred, leases: true,
            events: [.twinLacks("down"), .outdateRecorded, .leaseLost],
            steps: [.mirrorToTwin, .recordTwinOutdated, .confirmLease, .refuse(.leaseLost)]),
        Row(name: "preferred, no leases, outdate recorded: acknowledged degraded", twin: .preferred, leases: false,
            events: [.twinLacks("down"), .outdateRecorded],
            steps: [.mirrorToTwin, .recordTwinOutdated, .acknowledge(twinLacks: "down")]),
    ]

    @Test(arguments: rows) func eachPathEndsWhereItShould(_ row: Row) {
        var machine = CommitMachine(twin: row.twin, leasesInForce: row.leases)
        var seen = [machine.step]
        for event in row.events { seen.append(machine.handle(event)) }
        #expect(seen == row.steps)
        #expect(machine.isDecided)
    }

    /// A fact that does not answer the step asked changes nothing: a lease confirmation cannot
    /// skip the twin, and a twin's answer cannot stand in for the witness's.
    @Test func aFactOutOfTurnChangesNothing() {
        let every: [CommitMachine.Event] = [.twinHolds, .twinLacks("x"), .outdateRecorded, .outdateRefused("y"), .leaseHeld, .leaseLost]
        var mirroring = CommitMachine(twin: .preferred, leasesInForce: true)
        for event in [CommitMachine.Event.outdateRecorded, .outdateRefused("y"), .leaseHeld, .leaseLost] {
            #expect(mirroring.handle(event) == .mirrorToTwin)
        }
        var outdating = mirroring
        _ = outdating.handle(.twinLacks("down"))
        for event in [CommitMachine.Event.twinHolds, .twinLacks("again"), .leaseHeld, .leaseLost] {
            #expect(outdating.handle(event) == .recordTwinOutdated)
        }
        var confirming = CommitMachine(twin: nil, leasesInForce: true)
        for event in [CommitMachine.Event.twinHolds, .twinLacks("x"), .outdateRecorded, .outdateRefused("y")] {
            #expect(confirming.handle(event) == .confirmLease)
        }
        // Decided stays decided, whatever comes after.
        for start in [CommitMachine(twin: nil, leasesInForce: false), CommitMachine(twin: .required, leasesInForce: true)] {
            var machine = start
            if !machine.isDecided { _ = machine.handle(.twinLacks("gone")) }
            let decision = machine.step
            for event in every { #expect(machine.handle(event) == decision) }
        }
    }

    /// Without a lease check in force, no path reaches `confirmLease`; with one, every
    /// acknowledgement passes through it.
    @Test func everyAcknowledgementUnderLeasesPassesTheLeaseCheck() {
        let outcomes: [[CommitMachine.Event]] = [[.twinHolds], [.twinLacks("d"), .outdateRecorded]]
        for twin in [CommitMachine.TwinRule.required, .preferred] {
            for facts in outcomes {
                for leases in [false, true] {
                    var machine = CommitMachine(twin: twin, leasesInForce: leases)
                    var steps = [machine.step]
                    for fact in facts { steps.append(machine.handle(fact)) }
                    if leases, machine.step == .confirmLease { steps.append(machine.handle(.leaseHeld)) }
                    guard case .acknowledge = steps.last! else { continue }
                    #expect(steps.contains(.confirmLease) == leases, "twin \(twin), leases \(leases), facts \(facts)")
                }
            }
        }
    }
}

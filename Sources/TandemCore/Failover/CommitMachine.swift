/// Whether the active site may acknowledge one snapshot it has written, and why not.
///
/// A snapshot written at the active site counts as committed only once the twin holds it too,
/// or, under `twin: preferred`, once the witness recorded the twin outdated. And it is
/// acknowledged only if this site still holds the tenant's lease: the tenant may have moved
/// while the snapshot was written. The machine takes those facts one at a time, in that
/// order, and says what to find out next; the daemon does the I/O and reports back. It is pure
/// (no clock, no I/O) and table-tested like the failover machines beside it.
public struct CommitMachine: Sendable, Hashable {
    /// How the tenant's policy treats a twin that does not take the snapshot.
    public enum TwinRule: Sendable, Hashable {
        /// `twin: required`: no acknowledgement without the twin.
        case required
        /// `twin: preferred`: acknowledge alone once the witness recorded the twin outdated.
        case preferred
    }

    /// What the daemon must find out or do next.
    public enum Step: Sendable, Hashable {
        /// Send the snapshot to the twin and wait for it as the policy allows; report
        /// ``Event/twinHolds`` or ``Event/twinLacks(_:)``.
        case mirrorToTwin
        /// Ask the witness to record the twin outdated; report ``Event/outdateRecorded`` or
        /// ``Event/outdateRefused(_:)``.
        case recordTwinOutdated
        /// Check that this site still holds the tenant's lease; report ``Event/leaseHeld`` or
        /// ``Event/leaseLost``.
        case confirmLease
        /// The snapshot is committed. `twinLacks` says why the twin does not hold it yet
        /// (degraded mode), nil when it does or there is no twin.
        case acknowledge(twinLacks: String?)
        /// The snapshot stays on disk here but is not acknowledged as committed.
        case refuse(Refusal)
    }

    /// A fact the daemon found out.
    public enum Event: Sendable, Hashable {
        case twinHolds
        case twinLacks(String)
        case outdateRecorded
        case outdateRefused(String)
        case leaseHeld
        case leaseLost
    }

    /// Why a written snapshot is not acknowledged.
    public enum Refusal: Sendable, Hashable {
        /// `twin: required` and the twin does not hold it.
        case twinRequired(twinLacks: String)
        /// `twin: preferred`, the twin does not hold it, and the witness did not record the
        /// twin outdated, so acknowledging alone could lose it in a takeover.
        case outdateNotRecorded(twinLacks: String, refusal: String)
        /// This site lost the tenant's lease while the snapshot was written or mirrored.
        case leaseLost
    }

    /// The step the daemon is on (the last one returned).
    public private(set) var step: Step
    private let leasesInForce: Bool
    private var twinLacks: String?

    /// `twin` is nil where the tenant has no twin (a site without a twin peer, or the remote).
    /// `leasesInForce`: the lease is confirmed before acknowledging (a near site with a twin and
    /// a witness).
    public init(twin: TwinRule?, leasesInForce: Bool) {
        self.twin = twin
        self.leasesInForce = leasesInForce
        step = .acknowledge(twinLacks: nil)
        step = twin != nil ? .mirrorToTwin : afterTwin()
    }

    /// The tenant's twin rule (nil: no twin).
    public let twin: TwinRule?

    /// Takes a fact and returns the next step. A fact that does not answer the current step
    /// changes nothing (the current step is returned again); a finished decision stays final.
    public mutating func handle(_ event: Event) -> Step {
        switch (step, event) {
        case (.mirrorToTwin, .twinHolds):
            step = afterTwin()
        case (.mirrorToTwin, .twinLacks(let problem)):
            twinLacks = problem
            step = twin == .required ? .refuse(.twinRequired(twinLacks: problem)) : .recordTwinOutdated
        case (.recordTwinOutdated, .outdateRecorded):
            step = afterTwin()
        case (.recordTwinOutdated, .outdateRefused(let refusal)):
            step = .refuse(.outdateNotRecorded(twinLacks: twinLacks ?? "", refusal: refusal))
        case (.confirmLease, .leaseHeld):
            step = .acknowledge(twinLacks: twinLacks)
        case (.confirmLease, .leaseLost):
            step = .refuse(.leaseLost)
        default:
            break
        }
        return step
    }

    /// Whether the decision is made (acknowledged or refused).
    public var isDecided: Bool {
        switch step {
        case .acknowledge, .refuse: true
        case .mirrorToTwin, .recordTwinOutdated, .confirmLease: false
        }
    }

    private func afterTwin() -> Step {
        leasesInForce ? .confirmLease : .acknowledge(twinLacks: twinLacks)
    }
}

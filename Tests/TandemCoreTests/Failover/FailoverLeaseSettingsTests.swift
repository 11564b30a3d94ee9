import Testing
@testable import TandemCore

@Suite struct FailoverLeaseSettingsTests {
    @Test func theStandardSettingsAreTheDesignDefaults() {
        let settings = LeaseSettings.standard
        #expect(settings.interval == .seconds(1))
        #expect(settings.failoverAfter == 3)
        #expect(settings.leaseDuration == .seconds(10))
        #expect(settings.driftMargin == .milliseconds(500))
        #expect(settings.holderLease == .milliseconds(9_500))
        #expect(settings.detectionTime == .seconds(3))
        #expect(LeaseSettings.quorum(of: 3) == 2)
    }

    @Test(arguments: [
        (Duration.zero, 3, Duration.seconds(10), Duration.milliseconds(500), LeaseSettingsError.intervalNotPositive(.zero)),
        (.seconds(1), 0, .seconds(10), .milliseconds(500), .failoverAfterOutOfRange(0)),
        (.seconds(1), 3, .seconds(10), .zero, .driftMarginNotPositive(.zero)),
        // The lease must exceed interval × failoverAfter + drift margin, strictly.
        (.seconds(1), 3, .milliseconds(3_500), .milliseconds(500), .leaseTooShort(lease: .milliseconds(3_500), mustExceed: .milliseconds(3_500))),
        (.seconds(2), 5, .seconds(10), .seconds(1), .leaseTooShort(lease: .seconds(10), mustExceed: .seconds(11))),
    ])
    func invalidSettingsAreRefusedWithTheirReason(interval: Duration, failoverAfter: Int, lease: Duration,
                                                  drift: Duration, expected: LeaseSettingsError) {
        #expect(throws: expected) {
            try LeaseSettings(interval: interval, failoverAfter: failoverAfter, leaseDuration: lease, driftMargin: drift)
        }
    }

    @Test func theSmallestValidLeaseIsJustAboveTheBound() throws {
        let settings = try LeaseSettings(interval: .seconds(1), failoverAfter: 3,
                                         leaseDuration: .milliseconds(3_501), driftMargin: .milliseconds(500))
        #expect(settings.holderLease > settings.detectionTime)
    }

    @Test func refusalsSayWhatIsWrong() {
        let error = LeaseSettingsError.leaseTooShort(lease: .seconds(3), mustExceed: .milliseconds(3_500))
        #expect(error.description.contains("must be longer than interval × failover_after + drift margin"))
    }

    @Test func instantsAddAndSubtractDurations() {
        #expect(at(1.5) + .milliseconds(500) == at(2))
        #expect(at(2) - at(0.5) == .milliseconds(1_500))
        #expect(at(2) - .seconds(3) == at(-1))
        #expect(MonotonicInstant(nanoseconds: .max) + .seconds(1) == MonotonicInstant(nanoseconds: .max))
        #expect(OperatorReason("  ") == nil)
        #expect(OperatorReason(" site north burned down ")?.text == "site north burned down")
        #expect(Epoch(4).next == Epoch(5))
    }
}

@testable import TandemCore

/// Test helpers shared by the failover tests: manual instants, settings, a seeded generator.
enum FailoverFixture {
    static let north: SiteID = "north"
    static let south: SiteID = "south"
    static let remote: SiteID = "remote"
    static let voters: Set<SiteID> = [north, south, remote]

    /// 1 s interval, failover after 3, 10 s lease, 500 ms drift margin.
    static let settings = LeaseSettings.standard

    /// Small settings for long simulations: 1 s interval, failover after 3, 4 s lease, 500 ms.
    static let fast: LeaseSettings = {
        do {
            return try LeaseSettings(interval: .seconds(1), failoverAfter: 3, leaseDuration: .seconds(4),
                                     driftMargin: .milliseconds(500))
        } catch {
            preconditionFailure("\(error)")
        }
    }()
}

/// A manual monotonic instant in (fractional) seconds.
func at(_ seconds: Double) -> MonotonicInstant {
    MonotonicInstant(nanoseconds: Int64((seconds * 1e9).rounded()))
}

/// SplitMix64, so every random case is the same on every run and platform.
struct FailoverRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x2545_F491_4F6C_DD1D &+ 1 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
}

extension LeaseHolderMachine {
    /// A holder for tests, with the three fixture sites as voters.
    static func test(_ site: SiteID = FailoverFixture.north, epoch: Epoch = .initial,
                     settings: LeaseSettings = FailoverFixture.settings, incarnation: UInt64 = 7) -> LeaseHolderMachine {
        LeaseHolderMachine(site: site, voters: FailoverFixture.voters, settings: settings, epoch: epoch,
                           incarnation: incarnation)
    }
}

extension LeaseGrantorMachine {
    /// A voter that has been up long enough to grant (its quiet period is over at `at(0)`).
    static func warm(_ site: SiteID, settings: LeaseSettings = FailoverFixture.settings) -> LeaseGrantorMachine {
        LeaseGrantorMachine(site: site, settings: settings, startedAt: at(0) - settings.leaseDuration)
    }
}

extension LeaseReply {
    var grant: LeaseGrant? {
        if case .granted(let grant) = self { return grant }
        return nil
    }

    var refusal: LeaseRefusal? {
        if case .refused(let refused) = self { return refused.reason }
        return nil
    }
}

extension Array where Element == LeaseHolderAction {
    /// The request among the actions, if any.
    var request: LeaseRequest? {
        for case .sendRequests(let request) in self { return request }
        return nil
    }
}

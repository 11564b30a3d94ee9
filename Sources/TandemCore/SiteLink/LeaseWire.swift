/// The lease protocol's messages (``LeaseRequest``, ``LeaseReply``, ``WitnessVerdict``) as
/// they travel on a site link: a `lease` or `witness` request on the control connection, the
/// answer in the response's `lease` or `verdict`. Durations travel as milliseconds. Decoding
/// refuses anything that does not map back to a well-formed message.

/// A voter's answer to a lease request.
public struct LeaseWireReply: Codable, Sendable, Equatable {
    public var granted: Bool
    public var grantor: String
    /// Granted: the promise's length.
    public var durationMs: Int64?
    /// Refused: the reason's kind (``LeaseRefusal/Kind``) and its details.
    public var refusal: String?
    public var epoch: UInt64?
    public var owner: String?
    public var remainingMs: Int64?

    public init(_ reply: LeaseReply) {
        switch reply {
        case .granted(let grant):
            granted = true
            grantor = grant.grantor.name
            durationMs = Int64(grant.duration / .milliseconds(1))
        case .refused(let refused):
            granted = false
            grantor = refused.grantor.name
            refusal = refused.reason.kind.rawValue
            switch refused.reason {
            case .staleEpoch(let current, let owner): epoch = current.value; self.owner = owner.name
            case .epochTaken(let by): owner = by.name
            case .heldByOther(let holder, let held, let remaining):
                owner = holder.name; epoch = held.value; remainingMs = Int64(remaining / .milliseconds(1))
            case .released(let released): epoch = released.value
            case .requesterOutdated(let since): epoch = since.value
            case .recovering(let remaining): remainingMs = Int64(remaining / .milliseconds(1))
            }
        }
    }

    /// The reply to `request`, or nil when the fields do not make one.
    public func reply(to request: LeaseRequest) -> LeaseReply? {
        guard LinkNames.isSite(grantor) else { return nil }
        let grantorID = SiteID(grantor)
        if granted {
            guard let durationMs, durationMs > 0 else { return nil }
            return .granted(LeaseGrant(grantor: grantorID, holder: request.holder, epoch: request.epoch, request: request.id,
                                       duration: .milliseconds(durationMs)))
        }
        let remaining = Duration.milliseconds(max(0, remainingMs ?? 0))
        let reason: LeaseRefusal
        switch refusal.flatMap(LeaseRefusal.Kind.init(rawValue:)) {
        case .staleEpoch?:
            guard let epoch, let owner, LinkNames.isSite(owner) else { return nil }
            reason = .staleEpoch(current: Epoch(epoch), owner: SiteID(owner))
        case .epochTaken?:
            guard let owner, LinkNames.isSite(owner) else { return nil }
            reason = .epochTaken(by: SiteID(owner))
        case .heldByOther?:
            guard let epoch, let owner, LinkNames.isSite(owner) else { return nil }
            reason = .heldByOther(holder: SiteID(owner), epoch: Epoch(epoch), remaining: remaining)
        case .released?:
            guard let epoch else { return nil }
            reason = .released(Epoch(epoch))
        case .requesterOutdated?:
            guard let epoch else { return nil }
            reason = .requesterOutdated(since: Epoch(epoch))
        case .recovering?:
            reason = .recovering(remaining: remaining)
        case nil:
            return nil
        }
        return .refused(LeaseRefused(grantor: grantorID, request: request, reason: reason))
    }
}

/// The witness's verdict on a takeover.
public struct WitnessWireVerdict: Codable, Sendable, Equatable {
    public var agrees: Bool
    public var epoch: UInt64?
    public var remainingMs: Int64?
    /// Disagrees: `holder_alive`, `requester_outdated` or `recovering`, with details.
    public var objection: String?
    public var site: String?

    public init(_ verdict: WitnessVerdict) {
        switch verdict {
        case .agrees(let newest, let remaining):
            agrees = true
            epoch = newest?.value
            remainingMs = Int64(remaining / .milliseconds(1))
        case .disagrees(.holderAlive(let holder, let lastHeard)):
            agrees = false
            objection = "holder_alive"
            site = holder.name
            remainingMs = Int64(lastHeard / .milliseconds(1))
        case .disagrees(.requesterOutdated(let since)):
            agrees = false
            objection = "requester_outdated"
            epoch = since.value
        case .disagrees(.recovering(let remaining)):
            agrees = false
            objection = "recovering"
            remainingMs = Int64(remaining / .milliseconds(1))
        }
    }

    /// The verdict, or nil when the fields do not make one.
    public var verdict: WitnessVerdict? {
        let duration = Duration.milliseconds(max(0, remainingMs ?? 0))
        if agrees { return .agrees(epoch: epoch.map(Epoch.init), oldLeaseRemaining: duration) }
        switch objection {
        case "holder_alive":
            guard let site, LinkNames.isSite(site) else { return nil }
            return .disagrees(.holderAlive(site: SiteID(site), lastHeard: duration))
        case "requester_outdated":
            guard let epoch else { return nil }
            return .disagrees(.requesterOutdated(since: Epoch(epoch)))
        case "recovering":
            return .disagrees(.recovering(remaining: duration))
        default:
            return nil
        }
    }
}

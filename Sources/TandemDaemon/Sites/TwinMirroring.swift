import TandemSites

/// Mirroring to the twin (a near site with a twin peer): the shipper that sends active
/// tenants' snapshots, the doorbell of the resync loop, the witness client that records a
/// lagging twin outdated, and which tenants' twins are, or may be, recorded so. Owned by the
/// ``Daemon`` actor.
struct TwinMirroring: Sendable {
    /// Sends the twin what it lacks; nil without a twin peer.
    var shipper: Shipper?
    /// The witness, for degraded-mode records (a near site with leases in force).
    var witness: PeerClient?
    /// Stores what peers send: here at a twin, the active site's mirror; at the remote, what
    /// the near sites ship. Its caches are dropped when a tenant moves.
    var receiver: RemoteReceiver?
    /// Wakes the twin resync when a snapshot commits or the twin comes back.
    let bell = Doorbell()
    /// Tenants whose twin may be recorded outdated at the witness (cleared once it catches up;
    /// every active tenant starts here, since a restart forgets what was recorded).
    var maybeOutdated: Set<String> = []
    /// Tenants whose twin this site had the witness record outdated, until it is cleared.
    var recordedOutdated: Set<String> = []
}

/// Shipping to the remote site (a near site with a remote peer and TLS files): the shipper and
/// the doorbell that wakes it when a snapshot commits. Owned by the ``Daemon`` actor.
struct RemoteShipping: Sendable {
    /// Ships committed snapshots to the remote; nil without a remote peer.
    var shipper: Shipper?
    /// Wakes the shipper when a snapshot commits.
    let bell = Doorbell()
}

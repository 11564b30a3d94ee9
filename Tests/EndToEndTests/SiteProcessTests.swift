import Testing

/// The suites that run several real tandemd processes with tight heartbeat timing (twins,
/// failover, partition, the kill -9 sweep). They run one at a time, so they neither compete
/// with each other for this machine's cores nor block more than one thread of the test pool
/// while they wait for daemons.
@Suite(.serialized) enum SiteProcessTests {}

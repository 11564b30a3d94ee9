import TandemCore

extension Shipper {
    /// How to reach the peer site a ``Shipper`` or a ``PeerClient`` talks to: the remote site,
    /// the twin or the witness.
    public struct Remote: Sendable {
        public var site: String
        public var host: String
        public var port: Int
        public var tls: LinkTLS
        public var hello: LinkHello
        /// The tenant's epoch at this site, carried by every write (a twin requires it).
        public var epoch: @Sendable (String) async -> UInt64?
        /// How log lines name the peer: `the remote site` or `the twin`.
        public var label = "the remote site"
        /// Whether the peer follows this site's retention (a twin): forgotten snapshots and
        /// pruned packs are sent to it. The remote site applies its own retention instead.
        public var mirrorsDeletions = false

        public init(site: String, host: String, port: Int, tls: LinkTLS, hello: LinkHello,
                    epoch: @escaping @Sendable (String) async -> UInt64? = { _ in nil }) {
            self.site = site
            self.host = host
            self.port = port
            self.tls = tls
            self.hello = hello
            self.epoch = epoch
        }
    }
}

import TandemCore

extension Shipper {
    /// The peer site a ``Shipper`` or a ``PeerClient`` talks to (the remote site, the twin or
    /// the witness) and how to reach it.
    public struct Remote: Sendable {
        public var site: String
        /// Opens connections to the peer: TLS over TCP (``TLSLinkDialer``), or a link inside
        /// the process in unit tests.
        public var link: any LinkDialer
        /// The tenant's epoch at this site, carried by every write (a twin requires it).
        public var epoch: @Sendable (String) async -> UInt64?
        /// How log lines name the peer: `the remote site` or `the twin`.
        public var label = "the remote site"
        /// Whether the peer follows this site's retention (a twin): forgotten snapshots and
        /// pruned packs are sent to it. The remote site applies its own retention instead.
        public var mirrorsDeletions = false

        /// A peer at `host:port`, over TLS with `tls`, saying `hello` first.
        public init(site: String, host: String, port: Int, tls: LinkTLS, hello: LinkHello,
                    epoch: @escaping @Sendable (String) async -> UInt64? = { _ in nil }) {
            self.init(site: site, link: TLSLinkDialer(host: host, port: port, peer: site, tls: tls, hello: hello), epoch: epoch)
        }

        public init(site: String, link: any LinkDialer, epoch: @escaping @Sendable (String) async -> UInt64? = { _ in nil }) {
            self.site = site
            self.link = link
            self.epoch = epoch
        }
    }
}

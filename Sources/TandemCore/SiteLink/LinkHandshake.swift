/// Decides whether a peer's hello is acceptable, as a pure function: the answering site
/// knows which peers its config names, their roles, the name on the certificate the peer
/// presented (checked against the sites' CA by TLS), and its own protocol range and safety
/// settings.
public enum LinkHandshake {
    public static let protocolMin = 1
    public static let protocolMax = 1
    public static let features = ["ship-v1", "heartbeat-v1"]

    /// What the answering site expects of one peer.
    public struct Expected: Sendable, Equatable {
        public var site: String
        /// The role the peer must state in its hello: `near`, `remote` or `witness`.
        public var role: String
        /// Whether its heartbeat/lease settings must equal ours (true for the twin).
        public var sameSafety: Bool

        public init(site: String, role: String, sameSafety: Bool = false) {
            self.site = site
            self.role = role
            self.sameSafety = sameSafety
        }
    }

    /// The welcome to send, or the refusal (with a reason the peer can act on).
    public static func answer(_ hello: LinkHello, certificateName: String?, peers: [Expected], localSite: String,
                              localSafety: String) -> Result<LinkWelcome, LinkRefusal> {
        guard let expected = peers.first(where: { $0.site == hello.site }) else {
            return .failure(LinkRefusal(code: "site_name", message: "site '\(hello.site)' is not a peer of \(localSite)"))
        }
        guard certificateName == hello.site else {
            return .failure(LinkRefusal(code: "site_name",
                                        message: "the certificate is for '\(certificateName ?? "nobody")', not for '\(hello.site)'"))
        }
        guard expected.role == hello.role else {
            return .failure(LinkRefusal(code: "role", message: "\(localSite) knows '\(hello.site)' as \(expected.role), it says it is \(hello.role)"))
        }
        let low = max(protocolMin, hello.protocolMin)
        let high = min(protocolMax, hello.protocolMax)
        guard low <= high else {
            return .failure(LinkRefusal(code: "version", message: "no common protocol version: \(localSite) speaks \(protocolMin)-\(protocolMax), '\(hello.site)' speaks \(hello.protocolMin)-\(hello.protocolMax)"))
        }
        guard ["control", "bulk"].contains(hello.channel) else {
            return .failure(LinkRefusal(code: "protocol", message: "unknown channel '\(hello.channel)'"))
        }
        // The near sites (twins) must time heartbeats and leases alike, or the lease
        // argument does not hold; the remote/witness accepts any (it only grants).
        if expected.sameSafety && hello.safety != localSafety {
            return .failure(LinkRefusal(code: "safety_settings",
                                        message: "heartbeat/lease settings differ: \(localSite) uses \(localSafety), '\(hello.site)' uses \(hello.safety)"))
        }
        return .success(LinkWelcome(site: localSite, protocolVersion: high, features: features.filter(hello.features.contains)))
    }
}

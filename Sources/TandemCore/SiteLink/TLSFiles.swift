/// The site's TLS identity for peer links.
public struct TLSFiles: Sendable, Equatable {
    public var ca: String
    public var certificate: String
    public var key: String

    public init(ca: String, certificate: String, key: String) {
        self.ca = ca
        self.certificate = certificate
        self.key = key
    }

    /// The files `tandemctl certs init --dir DIR` writes for `site`.
    public init(certificatesDirectory dir: String, site: String) {
        self.init(ca: dir + "/ca.pem", certificate: "\(dir)/\(site).pem", key: "\(dir)/\(site).key")
    }
}

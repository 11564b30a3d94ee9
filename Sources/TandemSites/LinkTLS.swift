import Foundation
import NIOCore
import NIOSSL
import TandemCore

/// TLS for site links: both ends present a certificate signed by the sites' own CA, and each
/// end checks the other's name: the client by hostname verification against the peer's site
/// name, the server by reading the DNS name on the client's (CA-verified) certificate and
/// comparing it with the site the hello claims (``TandemCore/LinkHandshake``).
public struct LinkTLS: Sendable {
    let server: NIOSSLContext
    let client: NIOSSLContext

    public init(files: TLSFiles) throws {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem))
            var serverConfiguration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
            serverConfiguration.trustRoots = .file(files.ca)
            serverConfiguration.certificateVerification = .noHostnameVerification
            serverConfiguration.minimumTLSVersion = .tlsv12
            var clientConfiguration = TLSConfiguration.makeClientConfiguration()
            clientConfiguration.certificateChain = chain
            clientConfiguration.privateKey = key
            clientConfiguration.trustRoots = .file(files.ca)
            clientConfiguration.certificateVerification = .fullVerification
            clientConfiguration.minimumTLSVersion = .tlsv12
            server = try NIOSSLContext(configuration: serverConfiguration)
            client = try NIOSSLContext(configuration: clientConfiguration)
        } catch {
            throw LinkError.tls("cannot load the site's TLS files (ca \(files.ca), certificate \(files.certificate), key \(files.key)): \(error)")
        }
    }

    /// The DNS names on a certificate.
    static func dnsNames(_ certificate: NIOSSLCertificate) -> [String] {
        certificate._subjectAlternativeNames().compactMap { name in
            name.nameType == .dnsName ? String(decoding: Array(name.contents), as: UTF8.self) : nil
        }
    }
}

/// Why a link could not be used.
public enum LinkError: Error, Equatable, CustomStringConvertible {
    case tls(String)
    case refused(String)
    case closed(String)
    case protocolViolation(String)
    case remote(String)

    public var description: String {
        switch self {
        case .tls(let m): "TLS: \(m)"
        case .refused(let m): "refused by the peer: \(m)"
        case .closed(let m): "link closed: \(m)"
        case .protocolViolation(let m): "protocol violation: \(m)"
        case .remote(let m): "the peer failed the request: \(m)"
        }
    }
}

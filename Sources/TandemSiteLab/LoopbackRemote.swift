import Foundation
import Logging
import NIOCore
import TandemCore
import TandemSites
import TandemStore

/// A remote site inside this process for tests and benchmarks: the same ``TandemSites/LinkServer``
/// and ``TandemSites/RemoteReceiver`` that `tandemd` in `remote` role runs, on a loopback port
/// with mutual TLS, optionally behind a ``WANProxy``. ``shipper(near:backend:stateDirectory:indexPath:)``
/// makes the near site's side. Certificates come from `tandemctl certs init --dir DIR --site
/// home-a --site remote`.
public final class LoopbackRemote: Sendable {
    public static let remoteSite = "remote"
    public static let nearSite = "home-a"

    /// A logger that reports only warnings and worse (tests and benchmarks run many rounds).
    public static func quietLogger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .warning
        return logger
    }

    /// The receiver's own port (direct, no proxy).
    public let port: Int
    /// The proxy in front of the receiver, when a profile was given.
    public let proxy: WANProxy?
    public let receiver: RemoteReceiver
    private let certificates: String
    private let serving: Task<Void, Never>

    /// Starts a remote site storing into `backend`. With `profile`, shippers connect through a
    /// ``WANProxy`` with that profile. With `mirror`, it receives as a twin does: it follows
    /// the sender's deletions.
    public static func start(backend: any Backend, certificates: String, profile: WANProxy.Profile? = nil, mirror: Bool = false,
                             logger: Logger = LoopbackRemote.quietLogger("tandem.lab.remote")) async throws -> LoopbackRemote {
        let tls = try LinkTLS(files: TLSFiles(certificatesDirectory: certificates, site: remoteSite))
        let receiver = RemoteReceiver(backend: backend, mirror: mirror)
        let server = LinkServer(host: "127.0.0.1", port: 0, tls: tls, localSite: remoteSite, localSafety: "",
                                peers: [LinkHandshake.Expected(site: nearSite, role: "near")], logger: logger,
                                onRequest: { peer, request, body in await receiver.respond(peer: peer, request: request, body: body) },
                                onHeartbeat: { _, _ in })
        let (bound, announce) = AsyncStream<Int>.makeStream()
        let serving = Task {
            do {
                try await server.serve { address in announce.yield(address.port ?? 0) }
            } catch is CancellationError {
            } catch {
                logger.error("the loopback remote stopped", metadata: ["error": "\(error)"])
            }
            announce.finish()
        }
        var ports = bound.makeAsyncIterator()
        guard let port = await ports.next(), port > 0 else {
            serving.cancel()
            throw LinkError.closed("the loopback remote site could not listen")
        }
        var proxy: WANProxy?
        if let profile {
            proxy = WANProxy(upstreamPort: port, profile: profile)
            _ = try await proxy!.start()
        }
        return LoopbackRemote(port: port, proxy: proxy, receiver: receiver, certificates: certificates, serving: serving)
    }

    private init(port: Int, proxy: WANProxy?, receiver: RemoteReceiver, certificates: String, serving: Task<Void, Never>) {
        self.port = port
        self.proxy = proxy
        self.receiver = receiver
        self.certificates = certificates
        self.serving = serving
    }

    /// The near site's shipper toward this remote: through the proxy when there is one,
    /// unless `direct`. With `mirrorsDeletions` it sends retention's deletions, as a twin mirror does.
    public func shipper(backend: any Backend, stateDirectory: String, indexPath: @escaping @Sendable (String) -> String,
                        direct: Bool = false, mirrorsDeletions: Bool = false,
                        logger: Logger = LoopbackRemote.quietLogger("tandem.lab.near")) async throws -> Shipper {
        let tls = try LinkTLS(files: TLSFiles(certificatesDirectory: certificates, site: Self.nearSite))
        let hello = LinkHello(site: Self.nearSite, role: "near", protocolMin: LinkHandshake.protocolMin,
                              protocolMax: LinkHandshake.protocolMax, features: LinkHandshake.features, channel: "bulk", safety: "")
        let target = direct ? port : await proxy?.listeningPort ?? port
        var remote = Shipper.Remote(site: Self.remoteSite, host: "127.0.0.1", port: target, tls: tls, hello: hello)
        remote.mirrorsDeletions = mirrorsDeletions
        if mirrorsDeletions { remote.epoch = { _ in 1 } }
        return Shipper(backend: backend, stateDirectory: stateDirectory, remote: remote, logger: logger, indexPath: indexPath)
    }

    /// Stops the proxy and the server.
    public func stop() async {
        await proxy?.stop()
        serving.cancel()
        _ = await serving.value
    }
}

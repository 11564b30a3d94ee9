import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import TandemCore

/// Accepts peer sites' links on the site's `listen` address: TLS with client certificates,
/// the hello checked by ``TandemCore/LinkHandshake`` against the config's peers and the name
/// on the client's certificate, then each frame handed to `handler`. Every connection is a
/// child task of ``serve(onBound:)``.
public struct LinkServer: Sendable {
    /// Answers one request from a peer (bulk connection); `body` is the frame's body, and the
    /// answer's bytes go in the response frame's body.
    public typealias RequestHandler = @Sendable (_ peer: String, _ request: LinkRequest, _ body: ArraySlice<UInt8>) async -> (LinkResponse, [UInt8])
    /// Called for each heartbeat (control connection).
    public typealias HeartbeatHandler = @Sendable (_ peer: String, _ heartbeat: LinkHeartbeat) async -> Void

    let host: String
    let port: Int
    let tls: LinkTLS
    let localSite: String
    let localSafety: String
    let peers: [LinkHandshake.Expected]
    let logger: Logger
    let onRequest: RequestHandler
    let onHeartbeat: HeartbeatHandler

    public init(host: String, port: Int, tls: LinkTLS, localSite: String, localSafety: String, peers: [LinkHandshake.Expected],
                logger: Logger, onRequest: @escaping RequestHandler, onHeartbeat: @escaping HeartbeatHandler) {
        self.host = host
        self.port = port
        self.tls = tls
        self.localSite = localSite
        self.localSafety = localSafety
        self.peers = peers
        self.logger = logger
        self.onRequest = onRequest
        self.onHeartbeat = onHeartbeat
    }

    public func serve(onBound: @Sendable (SocketAddress) async -> Void = { _ in }) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.server))
                    try channel.pipeline.syncOperations.addHandler(LinkFrameInboundHandler())
                    try channel.pipeline.syncOperations.addHandler(LinkFrameOutboundHandler())
                    return try NIOAsyncChannel<LinkFrame, LinkFrame>(wrappingChannelSynchronously: channel)
                }
            }
        if let address = server.channel.localAddress { await onBound(address) }
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await handle(connection) }
                }
            }
        }
    }

    private func handle(_ connection: NIOAsyncChannel<LinkFrame, LinkFrame>) async {
        let remote = connection.channel.remoteAddress.map { "\($0)" } ?? "?"
        do {
            try await connection.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                guard let first = try await iterator.next() else { return }
                guard case .hello(let hello) = try LinkMessage.decode(first) else {
                    try await outbound.write(try LinkMessage.refuse(LinkRefusal(code: "protocol", message: "expected hello")).frame())
                    return
                }
                let certificate = try await connection.channel.nioSSL_peerCertificate().get()
                let names = certificate.map(LinkTLS.dnsNames) ?? []
                let certificateName = names.contains(hello.site) ? hello.site : names.first
                switch LinkHandshake.answer(hello, certificateName: certificateName, peers: peers, localSite: localSite,
                                            localSafety: localSafety) {
                case .failure(let refusal):
                    logger.warning("site link refused", metadata: ["from": "\(remote)", "claims": "\(hello.site)", "reason": "\(refusal)"])
                    try await outbound.write(try LinkMessage.refuse(refusal).frame())
                    return
                case .success(let welcome):
                    try await outbound.write(try LinkMessage.welcome(welcome).frame())
                    // Bulk connections come and go with every shipping round; only control links are news.
                    logger.log(level: hello.channel == "control" ? .info : .debug, "site link up",
                               metadata: ["peer": "\(hello.site)", "channel": "\(hello.channel)"])
                }
                while let frame = try await iterator.next() {
                    switch try LinkMessage.decode(frame) {
                    case .heartbeat(let heartbeat) where heartbeat.site == hello.site:
                        await onHeartbeat(hello.site, heartbeat)
                    case .request(let request):
                        let (response, body) = await onRequest(hello.site, request, frame.body)
                        try await outbound.write(try LinkMessage.response(response).frame(body: body))
                    default:
                        throw LinkError.protocolViolation("unexpected \(frame.kind) from \(hello.site)")
                    }
                }
            }
        } catch {
            logger.notice("site link closed", metadata: ["from": "\(remote)", "why": "\(error)"])
        }
    }
}

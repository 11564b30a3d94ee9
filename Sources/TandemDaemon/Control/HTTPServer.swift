import CTandemSystem
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Who is on the other end of a Unix-socket connection, from `SO_PEERCRED` (the kernel's
/// word, not the client's).
public struct PeerCredentials: Sendable, Equatable {
    public let pid: Int32
    public let uid: UInt32
    public let gid: UInt32
}

/// One HTTP request as the handlers see it.
public struct HTTPRequest: Sendable {
    public let method: HTTPMethod
    /// The path without the query.
    public let path: String
    public let query: [String: String]
    public let body: [UInt8]
    /// Known on the control socket; nil on TCP (the metrics port).
    public let peer: PeerCredentials?
    /// Completes when the connection the request came on closes: what a request's effect
    /// that lasts while its client does (an NBD export) waits on.
    public var connectionClosed: EventLoopFuture<Void>? = nil
}

/// One HTTP response.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]

    public init(status: HTTPResponseStatus, contentType: String = "application/json", body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// Where a server listens.
public enum HTTPListener: Sendable, CustomStringConvertible {
    /// A Unix socket (created fresh, a stale file removed first) with the given mode.
    case unix(path: String, mode: mode_t)
    case tcp(host: String, port: Int)

    public var description: String {
        switch self {
        case .unix(let path, _): path
        case .tcp(let host, let port): "\(host):\(port)"
        }
    }
}

/// A small HTTP/1.1 server on SwiftNIO's HTTP codec, with NIO's async channels: each
/// connection is a child task of `serve`, so stopping the server (cancelling `serve`) ends
/// them all; keep-alive is honoured; request bodies are capped at 1 MiB.
public struct HTTPServer: Sendable {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse
    public static let maximumBodyBytes = 1 << 20

    let listener: HTTPListener
    let handler: Handler
    let logger: Logger

    public init(listener: HTTPListener, logger: Logger, handler: @escaping Handler) {
        self.listener = listener
        self.logger = logger
        self.handler = handler
    }

    private typealias Connection = (channel: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, peer: PeerCredentials?)

    /// Binds, calls `onBound` with the bound address, and serves until cancelled.
    public func serve(onBound: @Sendable (SocketAddress) async -> Void = { _ in }) async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let initializer: @Sendable (Channel) -> EventLoopFuture<Connection> = { channel in
            let wantsPeer: Bool
            if case .unix = listener { wantsPeer = true } else { wantsPeer = false }
            let peer: EventLoopFuture<PeerCredentials?>
            if wantsPeer, let provider = channel as? SocketOptionProvider {
                peer = provider.unsafeGetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
                    .map { (cred: tandem_peer_credentials) in PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid) }
            } else {
                peer = channel.eventLoop.makeSucceededFuture(nil)
            }
            return peer.flatMapThrowing { peer in
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                let wrapped = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(isOutboundHalfClosureEnabled: true))
                return (wrapped, peer)
            }
        }
        let server: NIOAsyncChannel<Connection, Never>
        switch listener {
        case .unix(let path, let mode):
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true,
                                              childChannelInitializer: initializer)
            chmod(path, mode)
        case .tcp(let host, let port):
            server = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
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

    private func handle(_ connection: Connection) async {
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                        body = []
                        tooLarge = false
                    case .body(let buffer):
                        if body.count + buffer.readableBytes > Self.maximumBodyBytes { tooLarge = true } else {
                            body += buffer.readableBytesView
                        }
                    case .end:
                        guard let h = head else { continue }
                        let response: HTTPResponse
                        if tooLarge {
                            response = HTTPResponse(status: .payloadTooLarge, body: Array(#"{"error":"bad_request","message":"request body over 1 MiB"}"#.utf8))
                        } else {
                            let (path, query) = Self.split(h.uri)
                            response = await handler(HTTPRequest(method: h.method, path: path, query: query, body: body,
                                                                 peer: connection.peer,
                                                                 connectionClosed: connection.channel.channel.closeFuture))
                        }
                        let keepAlive = h.isKeepAlive
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: response.contentType)
                        headers.add(name: "Content-Length", value: String(response.body.count))
                        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
                        try await outbound.write(.head(HTTPResponseHead(version: h.version, status: response.status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
                        try await outbound.write(.end(nil))
                        head = nil
                        if !keepAlive {
                            // Half-close after the queued writes drain, then wait for the
                            // client to close: returning now could cut a large answer short.
                            outbound.finish()
                        }
                    }
                }
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["error": "\(error)", "listener": "\(listener)"])
        }
    }

    /// `/v1/x?a=1&b=2` into the path and its decoded query items.
    static func split(_ uri: String) -> (String, [String: String]) {
        guard let components = URLComponents(string: uri) else { return (uri, [:]) }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        return (components.percentEncodedPath.removingPercentEncoding ?? components.path, query)
    }
}

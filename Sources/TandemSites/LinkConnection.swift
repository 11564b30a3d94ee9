import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import TandemCore

/// A link connection this site opened to a peer: TLS (the peer's certificate must be for
/// `peer`), then hello/welcome, then requests answered in order. One request is in flight at
/// a time per connection with ``request(_:body:)``; ``submit(_:body:)`` and
/// ``response(to:)`` keep a bounded window of several in flight. The connection lives for one
/// ``LinkConnection/with(host:port:peer:tls:hello:timeout:_:)`` scope and is closed after it.
public final class LinkConnection: LinkChannel, @unchecked Sendable {
    // @unchecked: used only inside its `with` scope by the one task that opened it.
    private var iterator: NIOAsyncChannelInboundStream<LinkFrame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<LinkFrame>
    public let peer: String
    public private(set) var welcome = LinkWelcome(site: "", protocolVersion: 0, features: [])
    private var nextID: UInt64 = 1

    private init(iterator: NIOAsyncChannelInboundStream<LinkFrame>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<LinkFrame>,
                 peer: String) {
        self.iterator = iterator
        self.outbound = outbound
        self.peer = peer
    }

    /// Connects, verifies the peer's certificate name, says hello, and runs `body`.
    public static func with<T: Sendable>(host: String, port: Int, peer: String, tls: LinkTLS, hello: LinkHello,
                                         timeout: TimeAmount = .seconds(10),
                                         isolation: isolated (any Actor)? = #isolation,
                                         _ body: (LinkConnection) async throws -> T) async throws -> T {
        let channel: NIOAsyncChannel<LinkFrame, LinkFrame>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(timeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = try NIOSSLClientHandler(context: tls.client, serverHostname: peer)
                        try channel.pipeline.syncOperations.addHandler(handler)
                        try channel.pipeline.syncOperations.addHandler(LinkFrameInboundHandler())
                        try channel.pipeline.syncOperations.addHandler(LinkFrameOutboundHandler())
                        return try NIOAsyncChannel<LinkFrame, LinkFrame>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw LinkError.closed("cannot connect to \(peer) at \(host):\(port): \(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            let connection = LinkConnection(iterator: inbound.makeAsyncIterator(), outbound: outbound, peer: peer)
            do {
                try await connection.handshake(hello, host: host, port: port)
            } catch let error as NIOSSLError {
                throw LinkError.tls("handshake with \(peer) at \(host):\(port) failed: \(error)")
            }
            return try await body(connection)
        }
    }

    private func handshake(_ hello: LinkHello, host: String, port: Int) async throws {
        try await outbound.write(try LinkMessage.hello(hello).frame())
        guard let frame = try await iterator.next() else { throw LinkError.closed("\(peer) closed the link during the handshake") }
        switch try LinkMessage.decode(frame) {
        case .welcome(let welcome): self.welcome = welcome
        case .refuse(let refusal): throw LinkError.refused(refusal.description)
        default: throw LinkError.protocolViolation("\(peer) answered hello with \(frame.kind)")
        }
    }

    /// Sends a request without waiting for its answer; returns its ID for ``response(to:)``.
    /// The peer answers in order, so responses must be awaited in the order of submission.
    /// Keeping a few requests in flight (a window) lets the peer verify and store one pack
    /// while the next is on the wire.
    public func submit(_ request: LinkRequest, body: [UInt8]) async throws -> UInt64 {
        var message = request
        message.id = nextID
        nextID += 1
        try await outbound.write(try LinkMessage.request(message).frame(body: body))
        return message.id
    }

    /// Waits for the answer to the oldest request still in flight, which must be `id`.
    public func response(to id: UInt64) async throws -> (response: LinkResponse, body: [UInt8]) {
        guard let frame = try await iterator.next() else { throw LinkError.closed("\(peer) closed the link") }
        guard case .response(let response) = try LinkMessage.decode(frame), response.id == id else {
            throw LinkError.protocolViolation("\(peer) answered request \(id) with something else")
        }
        // A response's body fills its array, so this takes the array as it is.
        return (response, Array(frame.body))
    }

    /// Sends a message that needs no answer (heartbeats).
    public func send(_ message: LinkMessage) async throws {
        try await outbound.write(try message.frame())
    }

    /// Sends a frame as it is, whatever it holds: for tests that play a hostile or newer peer.
    public func send(frame: LinkFrame) async throws {
        try await outbound.write(frame)
    }
}

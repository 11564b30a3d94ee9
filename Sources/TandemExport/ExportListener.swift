import CTandemSystem
import Foundation
import Logging
import NIOCore
import NIOPosix
import TandemCore

/// Where an export server listens and whom it admits: binds a Unix socket or a TCP port and
/// hands each admitted connection to a child task, until cancelled. On a Unix socket with
/// `allowedUIDs`, the kernel's word on the connecting process (`SO_PEERCRED`) decides, as on
/// tandemd's control socket; anyone else is logged and closed before a byte is exchanged.
struct ExportListener: Sendable {
    let address: NBDAddress
    /// Nil: whoever may open the socket.
    let allowedUIDs: Set<UInt32>?
    let logger: Logger
    /// What is served, for the refusal's log line.
    let what: String

    private typealias Connection = (channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, uid: UInt32?)

    /// Listens until cancelled; `onBound` gets the address bound (a TCP port 0 resolved). A
    /// Unix socket left by an earlier run is replaced, and removed at the end.
    func serve(onBound: @Sendable (NBDAddress) async -> Void,
               handle: @escaping @Sendable (NIOAsyncChannel<ByteBuffer, ByteBuffer>) async -> Void) async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let wantsPeer: Bool
        if case .unix = address { wantsPeer = allowedUIDs != nil } else { wantsPeer = false }
        let initializer: @Sendable (Channel) -> EventLoopFuture<Connection> = { channel in
            let uid: EventLoopFuture<UInt32?>
            if wantsPeer, let provider = channel as? SocketOptionProvider {
                uid = provider.unsafeGetSocketOption(level: .socket, name: NIOBSDSocket.Option(rawValue: SO_PEERCRED))
                    .map { (credentials: tandem_peer_credentials) in credentials.uid }
            } else {
                uid = channel.eventLoop.makeSucceededFuture(nil)
            }
            return uid.flatMapThrowing { uid in (try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel), uid) }
        }
        let server: NIOAsyncChannel<Connection, Never>
        switch address {
        case .unix(let path):
            server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: initializer)
        case .tcp(let host, let port):
            server = try await bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .bind(host: host, port: port, childChannelInitializer: initializer)
        }
        defer { if case .unix(let path) = address { unlink(path) } }
        var bound = address
        if case .tcp(let host, _) = address, let port = server.channel.localAddress?.port { bound = .tcp(host: host, port: port) }
        await onBound(bound)
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask {
                        if let allowedUIDs, !(connection.uid.map(allowedUIDs.contains) ?? false) {
                            logger.warning("refused a connection: the peer's uid may not read this export",
                                           metadata: ["uid": "\(connection.uid.map(String.init) ?? "unknown")", "export": "\(what)"])
                            try? await connection.channel.executeThenClose { _, _ in }
                            return
                        }
                        await handle(connection.channel)
                    }
                }
            }
        }
    }
}

import Foundation
import Logging
import NIOCore
import NIOPosix
import TandemCore
import TandemStore

/// Serves one stream snapshot read-only over NBD: each connection is a child task speaking
/// ``TandemCore/NBDServerMachine``, reading from a ``TandemStore/SnapshotImage``. Reads of
/// damaged data get `EIO` (logged, never wrong bytes); the client's writes belong in its own
/// overlay (`qemu-img create -f qcow2 -b nbd+unix:///?socket=PATH -F raw overlay.qcow2`).
public struct NBDServer: Sendable {
    let image: SnapshotImage
    let export: NBDServerMachine.Export
    let logger: Logger
    /// The largest extent walk one block status request makes.
    static let blockStatusLimit = 1 << 30

    public init(image: SnapshotImage, export: NBDServerMachine.Export, logger: Logger) {
        self.image = image
        self.export = export
        self.logger = logger
    }

    /// Listens at `address` until the task is cancelled; `onBound` gets the address bound
    /// (a TCP port 0 resolved). A unix socket left by an earlier run is replaced, and removed at the end.
    public func serve(at address: NBDAddress, onBound: @Sendable (NBDAddress) async -> Void = { _ in }) async throws {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 16)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let initializer: @Sendable (Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
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
                    group.addTask { await handle(connection) }
                }
            }
        }
    }

    private func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let peer = connection.channel.remoteAddress.map { "\($0)" } ?? "local"
        var machine = NBDServerMachine(export: export)
        var why = "the client closed the connection"
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: NBDServerMachine.greeting()))
                for try await buffer in inbound {
                    for action in machine.receive(buffer.readableBytesView) {
                        switch action {
                        case .send(let bytes):
                            try await outbound.write(ByteBuffer(bytes: bytes))
                        case .read(let request):
                            try await outbound.write(await answer(read: request, machine: machine))
                        case .blockStatus(let request):
                            try await outbound.write(await answer(blockStatus: request, machine: machine))
                        case .close(let reason):
                            why = reason
                            return
                        }
                    }
                }
            }
        } catch {
            why = "\(error)"
        }
        logger.debug("nbd connection closed", metadata: ["peer": "\(peer)", "why": "\(why)"])
    }

    private func answer(read request: NBDServerMachine.Request, machine: NBDServerMachine) async -> ByteBuffer {
        do {
            let data = try await image.read(offset: Int(request.offset), length: Int(request.length))
            var reply = ByteBuffer(bytes: machine.readReplyHeader(request))
            reply.writeBytes(data)
            return reply
        } catch {
            logger.error("nbd read failed", metadata: ["offset": "\(request.offset)", "length": "\(request.length)", "error": "\(error)"])
            return ByteBuffer(bytes: machine.errorReply(request, error: NBDProtocol.errorIO, message: "\(error)"))
        }
    }

    private func answer(blockStatus request: NBDServerMachine.Request, machine: NBDServerMachine) async -> ByteBuffer {
        do {
            let runs = try await image.extents(offset: Int(request.offset), length: min(Int(request.length), Self.blockStatusLimit))
            let extents = runs.map { (length: UInt32($0.length), flags: $0.zero ? NBDProtocol.stateHole | NBDProtocol.stateZero : 0) }
            return ByteBuffer(bytes: machine.blockStatusReply(request, extents: extents))
        } catch {
            logger.error("nbd block status failed", metadata: ["offset": "\(request.offset)", "error": "\(error)"])
            return ByteBuffer(bytes: machine.errorReply(request, error: NBDProtocol.errorIO, message: "\(error)"))
        }
    }
}

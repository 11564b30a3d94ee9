import NIOCore
import NIOPosix
import TandemCore

/// A one-read NBD client on SwiftNIO: connects, negotiates the default export (fixed newstyle,
/// `NBD_OPT_GO`) and reads one block with a simple reply. What a drill uses to time the first
/// verified read of a served snapshot, through the same socket a hypervisor would use.
public enum NBDProbe {
    /// Why the probe got no bytes.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to `address` and returns the `length` bytes at `offset` of its default export.
    public static func read(_ address: NBDAddress, offset: UInt64, length: UInt32) async throws -> [UInt8] {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        let initializer: @Sendable (Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        let channel = switch address {
        case .unix(let path): try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
        case .tcp(let host, let port): try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
        }
        return try await channel.executeThenClose { inbound, outbound in
            var incoming = Incoming(inbound.makeAsyncIterator())
            var greeting = try await incoming.take(18)
            guard greeting.readInteger(as: UInt64.self) == NBDProtocol.greetingMagic,
                  greeting.readInteger(as: UInt64.self) == NBDProtocol.optionMagic else { throw Failure(description: "not an NBD server (greeting)") }
            var hello = ByteBuffer()
            hello.writeInteger(NBDProtocol.clientFixedNewstyle | NBDProtocol.clientNoZeroes)
            // NBD_OPT_GO: the default (empty) export name, no information requests.
            hello.writeInteger(NBDProtocol.optionMagic)
            hello.writeInteger(NBDProtocol.Option.go.rawValue)
            hello.writeInteger(UInt32(6))
            hello.writeInteger(UInt32(0))
            hello.writeInteger(UInt16(0))
            try await outbound.write(hello)
            while true {
                var reply = try await incoming.take(20)
                _ = reply.readInteger(as: UInt64.self)
                _ = reply.readInteger(as: UInt32.self)
                let type = reply.readInteger(as: UInt32.self) ?? 0
                let bodyLength = Int(reply.readInteger(as: UInt32.self) ?? 0)
                guard bodyLength <= NBDServerMachine.maximumOptionLength else { throw Failure(description: "an option reply of \(bodyLength) bytes") }
                _ = try await incoming.take(bodyLength)
                if type == NBDProtocol.OptionReply.ack.rawValue { break }
                if type & 0x8000_0000 != 0 { throw Failure(description: "the server refused NBD_OPT_GO (reply 0x\(String(type, radix: 16)))") }
            }
            var request = ByteBuffer()
            request.writeInteger(NBDProtocol.requestMagic)
            request.writeInteger(UInt16(0))
            request.writeInteger(NBDProtocol.Command.read.rawValue)
            request.writeInteger(UInt64(1))
            request.writeInteger(offset)
            request.writeInteger(length)
            try await outbound.write(request)
            var header = try await incoming.take(16)
            guard header.readInteger(as: UInt32.self) == NBDProtocol.simpleReplyMagic else { throw Failure(description: "not a simple reply") }
            let error = header.readInteger(as: UInt32.self) ?? 0
            guard error == 0 else { throw Failure(description: "the read at \(offset) failed with error \(error)") }
            var data = try await incoming.take(Int(length))
            var disconnect = ByteBuffer()
            disconnect.writeInteger(NBDProtocol.requestMagic)
            disconnect.writeInteger(UInt16(0))
            disconnect.writeInteger(NBDProtocol.Command.disconnect.rawValue)
            disconnect.writeRepeatingByte(0, count: 20)
            try? await outbound.write(disconnect)
            return data.readBytes(length: data.readableBytes) ?? []
        }
    }

    /// Inbound bytes gathered into whole messages.
    private struct Incoming {
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var buffer = ByteBuffer()

        init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }

        mutating func take(_ count: Int) async throws -> ByteBuffer {
            while buffer.readableBytes < count {
                guard var more = try await iterator.next() else { throw Failure(description: "the server closed the connection") }
                buffer.writeBuffer(&more)
            }
            return buffer.readSlice(length: count)!
        }
    }
}

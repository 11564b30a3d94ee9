import NIOCore
import TandemCore

/// NIO's side of the frame format: bytes in, frames out. The 16-byte prefix is checked by
/// ``TandemCore/LinkFrame/Prefix`` (the same code the fuzzed ``TandemCore/LinkFrameDecoder``
/// uses) before any of the frame is buffered for; header and body are then copied out of the
/// channel's buffer once.
struct LinkFrameInboundDecoder: ByteToMessageDecoder {
    typealias InboundOut = LinkFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let prefix = try LinkFrame.Prefix.parse(buffer.readableBytesView.prefix(LinkFrame.headerSize)) else { return .needMoreData }
        guard buffer.readableBytes >= prefix.frameLength else {
            // Room for the whole frame at once (its size is checked against the limit by now),
            // rather than growing a pack's 16 MiB by doubling, one copy per step.
            buffer.reserveCapacity(minimumWritableBytes: prefix.frameLength - buffer.readableBytes)
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: LinkFrame.headerSize)
        let header = buffer.readBytes(length: prefix.headerLength) ?? []
        let body = buffer.readBytes(length: prefix.bodyLength) ?? []
        context.fireChannelRead(wrapInboundOut(LinkFrame(kind: prefix.kind, header: header, body: body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Frames out as bytes, written straight into the channel's buffer.
struct LinkFrameOutboundEncoder: MessageToByteEncoder {
    typealias OutboundIn = LinkFrame

    func encode(data: LinkFrame, out: inout ByteBuffer) throws {
        out.reserveCapacity(LinkFrame.headerSize + data.header.count + data.body.count)
        out.writeBytes(LinkFrame.prefix(kind: data.kind, headerLength: data.header.count, bodyLength: data.body.count))
        out.writeBytes(data.header)
        out.writeBytes(data.body)
    }
}

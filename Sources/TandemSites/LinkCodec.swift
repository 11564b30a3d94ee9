import NIOCore
import TandemCore

/// NIO's side of ``TandemCore/LinkFrameDecoder``: bytes in, frames out.
struct LinkFrameInboundDecoder: ByteToMessageDecoder {
    typealias InboundOut = LinkFrame
    private var decoder = LinkFrameDecoder()

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if buffer.readableBytes > 0 {
            decoder.feed(buffer.readableBytesView)
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
        }
        guard let frame = try decoder.next() else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Frames out as bytes.
struct LinkFrameOutboundEncoder: MessageToByteEncoder {
    typealias OutboundIn = LinkFrame

    func encode(data: LinkFrame, out: inout ByteBuffer) throws {
        out.writeBytes(data.encoded())
    }
}

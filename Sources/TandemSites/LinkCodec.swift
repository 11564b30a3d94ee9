import NIOCore
import TandemCore

/// NIO's side of the frame format: bytes in, frames out. The 16-byte prefix is checked by
/// ``TandemCore/LinkFrame/Prefix`` (the same code the fuzzed ``TandemCore/LinkFrameDecoder``
/// uses) before anything is buffered for the frame; then the body is copied once, straight
/// from each received buffer into an array allocated for it. A large request's body (a pack)
/// starts at a page boundary of that array, so the twin writes it to disk around the page
/// cache from where it lies (`Backend.writeUncached`).
///
/// Not a `ByteToMessageDecoder`: that one gathers a whole frame in its buffer first, grown to
/// the next power of two, so a 16 MiB pack took 32 MiB — past glibc's largest mmap threshold,
/// a fresh mapping for every pack, faulted in page by page (a third of the twin's CPU time in
/// this VM) — and was then copied out again.
final class LinkFrameInboundHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = LinkFrame

    /// Prefix and header bytes of the next frame, while they arrive in pieces.
    private var head: [UInt8] = []
    /// The frame whose body is arriving.
    private var prefix: LinkFrame.Prefix?
    private var header: [UInt8] = []
    /// The body's storage, and where in it the body starts.
    private var storage: [UInt8] = []
    private var bodyStart = 0
    private var received = 0
    private var failed = false
    /// Request bodies from this size on are placed at a page boundary.
    static let alignedFrom = 1 << 20
    static let page = 4096

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        do {
            while let frame = try take(from: &input) {
                context.fireChannelRead(wrapInboundOut(frame))
            }
        } catch {
            // A peer that sends bytes that cannot be a frame is not read from again.
            failed = true
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    /// Consumes `input` up to the end of the next complete frame; nil once `input` is used up.
    private func take(from input: inout ByteBuffer) throws -> LinkFrame? {
        while input.readableBytes > 0 || prefix?.bodyLength == 0 {
            guard let current = prefix else {
                try takeHead(from: &input)
                continue
            }
            let count = min(current.bodyLength - received, input.readableBytes)
            if count > 0 {
                let at = bodyStart + received
                storage.withUnsafeMutableBytes { target in
                    input.readWithUnsafeReadableBytes { raw in
                        target.baseAddress!.advanced(by: at).copyMemory(from: raw.baseAddress!, byteCount: count)
                        return count
                    }
                }
                received += count
            }
            if received == current.bodyLength {
                let frame = LinkFrame(kind: current.kind, header: header, body: storage[bodyStart..<bodyStart + received])
                prefix = nil
                header = []
                storage = []
                bodyStart = 0
                received = 0
                return frame
            }
        }
        return nil
    }

    /// Gathers the prefix and the header; once both are in, readies the body.
    private func takeHead(from input: inout ByteBuffer) throws {
        let needed = try head.count < LinkFrame.headerSize ? LinkFrame.headerSize
            : LinkFrame.headerSize + LinkFrame.Prefix.parse(head)!.headerLength
        let count = min(needed - head.count, input.readableBytes)
        head += input.readBytes(length: count) ?? []
        // The magic is checked as soon as it arrives, so garbage fails fast.
        guard let parsed = try LinkFrame.Prefix.parse(head), head.count == LinkFrame.headerSize + parsed.headerLength else { return }
        prefix = parsed
        header = Array(head[LinkFrame.headerSize...])
        head.removeAll(keepingCapacity: true)
        let aligned = parsed.kind == .request && parsed.bodyLength >= Self.alignedFrom
        let capacity = parsed.bodyLength + (aligned ? Self.page : 0)
        // Every byte of the body is written before the frame goes on; the padding is zeroed.
        storage = [UInt8](unsafeUninitializedCapacity: capacity) { _, count in count = capacity }
        bodyStart = 0
        if aligned {
            storage.withUnsafeMutableBytes { raw in
                let address = Int(bitPattern: raw.baseAddress!)
                bodyStart = (Self.page - address % Self.page) % Self.page
                raw.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: bodyStart)
                raw.baseAddress!.advanced(by: bodyStart + parsed.bodyLength)
                    .initializeMemory(as: UInt8.self, repeating: 0, count: capacity - bodyStart - parsed.bodyLength)
            }
        }
    }
}

/// Frames out as bytes: the prefix and header in one buffer, then the body in buffers of at
/// most ``slice`` bytes. Not a `MessageToByteEncoder`, whose one buffer per frame grows to the
/// next power of two: 32 MiB for a 16 MiB pack, mapped and faulted in anew for every pack.
final class LinkFrameOutboundHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = LinkFrame
    typealias OutboundOut = ByteBuffer

    static let slice = 1 << 20

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        var head = context.channel.allocator.buffer(capacity: LinkFrame.headerSize + frame.header.count)
        head.writeBytes(LinkFrame.prefix(kind: frame.kind, headerLength: frame.header.count, bodyLength: frame.body.count))
        head.writeBytes(frame.header)
        var pieces = [head]
        var offset = frame.body.startIndex
        while offset < frame.body.endIndex {
            let end = min(offset + Self.slice, frame.body.endIndex)
            var buffer = context.channel.allocator.buffer(capacity: end - offset)
            buffer.writeBytes(frame.body[offset..<end])
            pieces.append(buffer)
            offset = end
        }
        // The frame's promise completes with its last byte (a failed write fails the rest).
        for (index, piece) in pieces.enumerated() {
            context.write(wrapOutboundOut(piece), promise: index == pieces.count - 1 ? promise : nil)
        }
    }
}
